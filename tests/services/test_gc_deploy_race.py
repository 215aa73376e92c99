"""A gc and a deploy of an old build, at the same time, on SQLite and PostgreSQL.

Whichever commits first, the other sees it: a deployment that queued before the gc
decided keeps its artifact; one that queues while the gc holds its decision waits for it
and is then refused (the artifact is collected), so no rollout ever starts on files a gc
is about to remove. On PostgreSQL (read committed) each would otherwise decide from rows
the other had not committed: the deployment's row, whose foreign key holds its build's row
while it queues, and a gc that locks the builds it collects, then decides again
(``gc._decide_locked``).

Two gcs at once collect each artifact once, with one audit record. Each step runs in a
real transaction of its own; the threads are waited for with bounded timeouts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conftest import RELEASER, Project, make_project, stop_all
from shipyard.config import load
from shipyard.core import states as st
from shipyard.services import gc
from shipyard.services.context import Context, open_context
from shipyard.services.deploy.planning import plan
from shipyard.services.deploy.transitions import new_deployment
from shipyard.store import audit
from shipyard.store.models import Build

pytestmark = pytest.mark.slow

BLOCKED = 1.5  # seconds a blocked side is watched still waiting
BACK = "back to an older build"  # going back takes changes out: a reason says why


@pytest.fixture
def three(tmp_path: Path, db_url: str) -> Iterator[tuple[Project, list[str]]]:
    """Three commits synced in two batches, stage on the newest: with ``keep = 0`` gc
    collects the middle one's artifact (the first is stage's rollback target)."""
    policy = f'\n[state]\ndatabase_url = "{db_url}"\n\n[artifacts]\nkeep = 0\ngc = "manual"\n'
    p = make_project(tmp_path / "monitor", policy)
    try:
        p.ok("sync")
        shas = [p.head()]
        shas += [p.repo.commit(f"Add {n}", p.features(n), author=RELEASER) for n in "bc"]
        p.ok("sync")
        yield p, shas
    finally:
        stop_all(p)


def contexts(p: Project, n: int) -> list[Context]:
    return [open_context(load(p.path / "shipyard.toml"), actor="ops@example.com") for _ in range(n)]


def in_thread(
    fn: Callable[[], Any], name: str | None = None
) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # reported by the test
            out["error"] = exc

    t = threading.Thread(target=run, name=name, daemon=True)
    t.start()
    return t, out


def verdict(report: gc.GcReport, sha: str) -> gc.Verdict:
    return next(v for v in report.verdicts if v.short_sha == sha[:7])


def test_a_deploy_queued_before_the_gc_commits_keeps_its_artifact(
    three: tuple[Project, list[str]],
) -> None:
    p, shas = three
    deploy_ctx, gc_ctx = contexts(p, 2)
    try:
        assert verdict(gc.collect(gc_ctx, dry_run=True), shas[1]).remove
        queued = plan(deploy_ctx, "stage", shas[1], reason=BACK)
        with deploy_ctx.store.write() as s:  # the deploy's queueing, not yet committed
            new_deployment(deploy_ctx, s, queued, st.QUEUED, None, datetime.now(UTC))
            collecting, out = in_thread(lambda: gc.collect(gc_ctx, dry_run=False))
            collecting.join(BLOCKED)
            assert collecting.is_alive(), out  # it waits on the build the deploy holds
        collecting.join(60)
        assert not collecting.is_alive() and "error" not in out, out
        report = out["value"]
        kept = verdict(report, shas[1])
        assert not kept.remove and kept.why == "a deployment of it is queued"
        assert not verdict(report, shas[0]).remove  # stage's rollback target
        with deploy_ctx.store.read() as s:
            assert gc.protected(deploy_ctx, s)[shas[1]] == "a deployment of it is queued"
            build = s.get(Build, queued.build_id)
            assert build is not None and build.artifact_collected_at is None
            digest = build.artifact_digest
        assert digest and deploy_ctx.artifacts.exists(deploy_ctx.app_name, digest)
    finally:
        deploy_ctx.close()
        gc_ctx.close()


def test_a_deploy_that_queues_while_the_gc_decides_waits_and_is_refused(
    three: tuple[Project, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    p, shas = three
    deploy_ctx, gc_ctx = contexts(p, 2)
    decided, go_on = threading.Event(), threading.Event()

    def append(*args: Any, **kw: Any) -> Any:  # the gc's audit record: it has decided
        decided.set()
        assert go_on.wait(60)
        return audit.append(*args, **kw)

    monkeypatch.setattr(gc, "audit", SimpleNamespace(append=append))
    try:
        queued = plan(deploy_ctx, "stage", shas[1], reason=BACK)
        assert queued.refusal is None
        collecting, out = in_thread(lambda: gc.collect(gc_ctx, dry_run=False))
        assert decided.wait(60), out

        def enqueue() -> None:
            with deploy_ctx.store.write() as s:
                new_deployment(deploy_ctx, s, queued, st.QUEUED, None, datetime.now(UTC))

        queueing, queue_out = in_thread(enqueue)
        queueing.join(BLOCKED)
        assert queueing.is_alive(), queue_out  # it waits for the gc's transaction
        go_on.set()
        collecting.join(60)
        queueing.join(60)
        assert not collecting.is_alive() and not queueing.is_alive()
        assert "error" not in out and "error" not in queue_out, (out, queue_out)
        assert verdict(out["value"], shas[1]).remove
        again = plan(deploy_ctx, "stage", shas[1], reason=BACK)  # what the deploy reads once queued
        assert again.refusal is not None
        assert f"artifact of {shas[1][:7]} collected by gc" in again.refusal
    finally:
        go_on.set()
        deploy_ctx.close()
        gc_ctx.close()


def test_two_gcs_at_once_collect_each_artifact_once(
    three: tuple[Project, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    p, shas = three
    first_ctx, second_ctx = contexts(p, 2)
    decided, go_on = threading.Event(), threading.Event()
    records: list[dict[str, Any]] = []

    def append(*args: Any, **kw: Any) -> Any:
        records.append(kw)
        if threading.current_thread().name == "first":
            decided.set()
            assert go_on.wait(60)
        return audit.append(*args, **kw)

    monkeypatch.setattr(gc, "audit", SimpleNamespace(append=append))
    try:
        first, first_out = in_thread(lambda: gc.collect(first_ctx, dry_run=False), "first")
        assert decided.wait(60), first_out
        second, second_out = in_thread(lambda: gc.collect(second_ctx, dry_run=False), "second")
        second.join(BLOCKED)
        assert second.is_alive(), second_out  # it waits for the first one's decision
        go_on.set()
        first.join(60)
        second.join(60)
        assert "error" not in first_out and "error" not in second_out, (first_out, second_out)
        assert [v.short_sha for v in first_out["value"].removed] == [shas[1][:7]]
        assert second_out["value"].removed == []  # already collected: not even listed
        assert shas[1][:7] not in {v.short_sha for v in second_out["value"].verdicts}
        assert [r["data"]["builds"] for r in records] == [[shas[1][:7]]]  # one audit record
    finally:
        go_on.set()
        first_ctx.close()
        second_ctx.close()
