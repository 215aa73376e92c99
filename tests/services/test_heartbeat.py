"""Deployments owned on another host (another replica): their heartbeat decides when
they are recovered, and of several replicas one recovers each. SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from shipyard.config import parse
from shipyard.services.context import Context
from shipyard.services.deploy import heartbeat
from shipyard.services.deploy.recovery import recover
from shipyard.services.owners import host_name, on_this_host, owner_id
from shipyard.store.db import open_store
from shipyard.store.models import Deployment, Lease

ELSEWHERE = "shipyard-6c9f8-b2x7q:1:123456"  # a process in another pod


@pytest.fixture
def ctx(tmp_path: Path, db_url: str) -> Iterator[Context]:
    settings = parse(
        {
            "app": {"name": "monitor", "run": "true"},
            "environments": {"stage": {"port": 18111, "auto": True}},
            "schedule": {"lease_ttl": 5},
            "state": {"database_url": db_url},
        },
        root=tmp_path,
    )
    c = Context(settings=settings, store=open_store(db_url), actor="ops@example.com")
    try:
        yield c
    finally:
        c.store.close()


def _queued(ctx: Context, owner: str, *, updated: datetime | None = None) -> int:
    now = datetime.now(UTC)
    with ctx.store.write() as s:
        env = ctx.environment_row(s, "stage")
        d = Deployment(
            app_id=ctx.app_id,
            environment_id=env.id,
            commit="a" * 40,
            ref="aaaaaaa",
            tag="aaaaaaa",
            kind="deploy",
            state="queued",
            requested_by="ana@example.com",
            owner=owner,
            created_at=now,
            updated_at=updated or now,
        )
        s.add(d)
        s.flush()
        return d.id


def _state(ctx: Context, dep_id: int) -> str:
    with ctx.store.read() as s:
        d = s.get(Deployment, dep_id)
        assert d is not None
        return d.state


def _beat(ctx: Context, dep_id: int, holder: str, seconds_left: float) -> None:
    """The heartbeat as its holder last left it: expiring ``seconds_left`` from now."""
    expires = datetime.now(UTC) + timedelta(seconds=seconds_left)
    with ctx.store.write() as s:
        if s.get(Lease, heartbeat.lease_name(dep_id)) is None:
            s.add(Lease(name=heartbeat.lease_name(dep_id), holder=holder, expires_at=expires))
        else:
            s.execute(
                update(Lease)
                .where(Lease.name == heartbeat.lease_name(dep_id))
                .values(holder=holder, expires_at=expires)
            )


def _leases(ctx: Context) -> list[str]:
    with ctx.store.read() as s:
        return list(s.execute(select(Lease.name)).scalars())


def test_the_pod_name_is_the_host_of_owner_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_POD_NAME", "shipyard-6c9f8-x1:odd")
    assert host_name() == "shipyard-6c9f8-x1-odd"  # a ':' would split the owner id
    assert owner_id().startswith("shipyard-6c9f8-x1-odd:")
    assert on_this_host(owner_id()) and not on_this_host(ELSEWHERE)
    monkeypatch.delenv("SHIPYARD_POD_NAME")
    assert not owner_id().startswith("shipyard-6c9f8-x1-odd:")


def test_a_deployment_elsewhere_is_recovered_once_its_heartbeat_expires(ctx: Context) -> None:
    dep = _queued(ctx, ELSEWHERE)
    _beat(ctx, dep, ELSEWHERE, 4)
    assert recover(ctx) == [] and _state(ctx, dep) == "queued"  # its owner renews it
    _beat(ctx, dep, ELSEWHERE, -0.5)  # silent for longer than the lease time
    assert recover(ctx) == [f"stage#{dep} cancelled (abandoned in the queue)"]
    assert _state(ctx, dep) == "cancelled"
    assert _leases(ctx) == []  # the recovering process gave the heartbeat up


def test_a_deployment_another_replica_recovers_is_left_to_it(ctx: Context) -> None:
    dep = _queued(ctx, ELSEWHERE)
    _beat(ctx, dep, "shipyard-6c9f8-other:7:99", 4)  # taken over, being recovered there
    assert recover(ctx) == [] and _state(ctx, dep) == "queued"


def test_a_deployment_without_a_heartbeat_is_trusted_for_an_hour(ctx: Context) -> None:
    fresh = _queued(ctx, ELSEWHERE)
    old = _queued(ctx, ELSEWHERE, updated=datetime.now(UTC) - timedelta(hours=2))
    assert recover(ctx) == [f"stage#{old} cancelled (abandoned in the queue)"]
    assert _state(ctx, fresh) == "queued"


def test_a_running_deployment_renews_its_heartbeat_and_gives_it_up(ctx: Context) -> None:
    dep = _queued(ctx, owner_id())
    with ctx.store.write() as s:
        first = heartbeat.first_beat(ctx, dep, owner_id(), datetime.now(UTC) - timedelta(seconds=4))
        s.add(first)
    with heartbeat.beating(ctx, dep):
        # The first renewal comes a third of the lease time (5 s) in; bounded wait for it.
        for _ in range(100):
            with ctx.store.read() as s:
                lease = s.get(Lease, heartbeat.lease_name(dep))
                assert lease is not None and lease.holder == owner_id()
                expires = lease.expires_at.replace(tzinfo=lease.expires_at.tzinfo or UTC)
            if expires > first.expires_at:
                break
            time.sleep(0.1)
        assert expires > first.expires_at
        assert recover(ctx) == []  # alive: this very process
    assert _leases(ctx) == []
