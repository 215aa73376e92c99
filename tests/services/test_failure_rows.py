"""The failed deployments the views show (``services.deploy.failures``), on SQLite and
PostgreSQL: per environment, its newest failure after what it runs, for the apps asked
about only; and on SQLite, found through indexes rather than a scan of every deployment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from shipyard.services.deploy.failures import (
    _latest_failures_query,
    latest_failure_rows,
    latest_failures,
)
from shipyard.store.db import Store, open_store
from shipyard.store.models import App, Deployment, Environment

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def deployment(dep_id: int, app_id: int, env_id: int, state: str, error: str | None = None) -> dict:
    at = T0 + timedelta(minutes=dep_id)
    return dict(id=dep_id, app_id=app_id, environment_id=env_id, build_id=None,
                commit=f"{dep_id:040x}", ref=f"r{dep_id}", tag=f"t{dep_id}", tag_created=True,
                kind="deploy", state=state, requested_by="ana", reason=None, error=error,
                previous_deployment_id=None, owner=None, created_at=at, updated_at=at,
                finished_at=at)  # fmt: skip


def seed(store: Store) -> None:
    """Two apps of two environments each (ids: app 1 -> 1, 2; app 2 -> 3, 4)."""
    apps = [dict(id=i, name=f"a{i}", repo="", baseline_sha=None, last_seen_sha=None,
                 created_at=T0) for i in (1, 2)]  # fmt: skip
    deps = [
        deployment(1, 1, 1, "succeeded"),
        deployment(2, 1, 1, "failed", "old: before what runs"),
        deployment(3, 1, 1, "succeeded"),  # env 1 runs this
        deployment(4, 1, 1, "failed", "first after"),
        deployment(5, 1, 1, "failed", "newest after"),
        deployment(6, 1, 2, "failed", "nothing ever ran here"),
        deployment(7, 2, 3, "succeeded"),  # env 3 runs this
        deployment(8, 2, 3, "failed", "the other app's"),
    ]
    envs = [dict(id=1, app_id=1, name="stage", current_deployment_id=3),
            dict(id=2, app_id=1, name="prod", current_deployment_id=None),
            dict(id=3, app_id=2, name="stage", current_deployment_id=7),
            dict(id=4, app_id=2, name="prod", current_deployment_id=None)]  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(insert(App), apps)
        conn.execute(insert(Environment), envs)
        conn.execute(insert(Deployment), deps)


def test_newest_failure_after_what_runs_for_the_apps_asked_only(db_url: str) -> None:
    store = open_store(db_url)
    try:
        seed(store)
        with store.read() as s:
            rows = latest_failure_rows(s, [1], ("id", "error"))
            both = latest_failure_rows(s, [1, 2], ("id",))
            orm = {env: d.id for env, d in latest_failures(s, [2]).items()}
        assert sorted(tuple(r) for r in rows) == [
            (1, 5, "newest after"),
            (2, 6, "nothing ever ran here"),
        ]
        assert sorted(tuple(r) for r in both) == [(1, 5), (2, 6), (3, 8)]
        assert orm == {3: 8}
    finally:
        store.close()


def test_sqlite_finds_them_through_indexes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'shipyard.db'}")
    try:
        seed(store)
        query = _latest_failures_query(("id",)).params(app_ids=[1, 2])
        sql = str(
            query.compile(
                store.engine, compile_kwargs={"literal_binds": True, "render_postcompile": True}
            )
        )
        with store.engine.connect() as conn:
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
        assert not [step for step in plan if step.startswith("SCAN")], plan
        assert any("INDEX ix_deployments_env_state (environment_id=?" in step for step in plan), (
            plan
        )
    finally:
        store.close()
