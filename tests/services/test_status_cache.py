"""What waits upstream, stored at sync and deploy time: ``status`` reads it without git.

Real sample projects (git repositories in temp dirs, real checks and instances)
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, select, text

from conftest import Project, make_project
from shipyard.adapters.tracker import VERIFIED
from shipyard.config import Settings, load
from shipyard.errors import GitError
from shipyard.services import health
from shipyard.services.builds import sync
from shipyard.services.context import Context
from shipyard.services.deploy.execution import execute
from shipyard.services.deploy.planning import plan
from shipyard.services.status import EnvStatus, Waiting, status
from shipyard.store.db import HEAD_REVISION, MIGRATIONS, Store, open_store
from shipyard.store.models import Environment

BO = ("Bo Dev", "bo@example.com")
CY = ("Cy Dev", "cy@example.com")
ENVS = ("stage", "dev", "prod")


@pytest.fixture
def project(tmp_path: Path, db_url: str) -> Iterator[Project]:
    p = make_project(tmp_path / "monitor", extra=f'\n[state]\ndatabase_url = "{db_url}"\n')
    try:
        yield p
    finally:
        settings = load(p.path / "shipyard.toml")
        ctx = Context(settings=settings, store=Store(db_url), actor="cleanup@example.com")
        for env in ENVS:
            ctx.runtime.down("monitor", env)
        health.forget(settings.state_dir, "monitor")
        ctx.store.close()


@contextmanager
def context(project: Project, actor: str = "ana@example.com") -> Iterator[Context]:
    """A fresh context (no git or runtime object carried over), as each request gets."""
    settings: Settings = load(project.path / "shipyard.toml")
    ctx = Context(settings=settings, store=open_store(settings.database_url), actor=actor)
    try:
        yield ctx
    finally:
        ctx.store.close()


@contextmanager
def git_gone(project: Project) -> Iterator[None]:
    """The repository is unreadable: its ``.git`` is moved away, and git says so."""
    away = project.path.parent / "git-away"
    (project.path / ".git").rename(away)
    try:
        with context(project) as ctx, pytest.raises(GitError):
            ctx.git.head_of("main")
        yield
    finally:
        away.rename(project.path / ".git")


def two_prs(project: Project) -> None:
    project.repo.squash_pr(2, "Add alerts MNTOR-1", project.features("alerts"), author=BO)
    project.repo.squash_pr(3, "Fix footer MNTOR-2", project.features("footer"), author=CY)


def by_name(rows: list[EnvStatus]) -> dict[str, Waiting | None]:
    return {r.name: r.waiting for r in rows}


def stored(ctx: Context) -> dict[str, tuple[int | None, list[str] | None]]:
    with ctx.store.read() as s:
        rows = s.execute(select(Environment).where(Environment.app_id == ctx.app_id)).scalars()
        return {
            e.name: (
                e.waiting_changes,
                json.loads(e.waiting_tickets) if e.waiting_tickets else None,
            )
            for e in rows
        }


def test_after_sync_status_answers_from_the_database_without_git(project: Project) -> None:
    with context(project) as ctx:
        sync(ctx, deploy=False)  # the first sync adopts main's head as the baseline
        two_prs(project)
        sync(ctx, deploy=False)
        assert stored(ctx)["stage"] == (2, ["MNTOR-1", "MNTOR-2"])
    with git_gone(project), context(project) as ctx:
        statements: list[str] = []
        event.listen(ctx.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        ctx.app_id  # noqa: B018 - the app's row, as a server knows it already
        statements.clear()
        waiting = by_name(status(ctx))
        # Nothing runs anywhere yet: stage waits for what main had at the last sync;
        # dev and prod wait for stage, which runs nothing.
        assert waiting == {
            "stage": Waiting(2, ["MNTOR-1", "MNTOR-2"], ["MNTOR-1", "MNTOR-2"]),
            "dev": None,
            "prod": None,
        }
        # A few reads for the whole app (none per environment), and no write.
        queries = [q for q in statements if not q.upper().startswith(("BEGIN", "COMMIT"))]
        assert len(queries) <= 5, queries
        assert all(q.lstrip().upper().startswith("SELECT") for q in queries), queries


def test_a_qa_verify_shows_at_once_without_a_sync(project: Project) -> None:
    with context(project) as ctx:
        sync(ctx, deploy=False)
        two_prs(project)
        sync(ctx, deploy=False)
    with context(project, "quinn@example.com") as qa:
        qa.store.retrying(lambda s: qa.tracker.set_status(s, ["MNTOR-2"], VERIFIED, qa.actor))
    with git_gone(project), context(project) as ctx:
        stage = by_name(status(ctx))["stage"]
        assert stage == Waiting(2, ["MNTOR-1", "MNTOR-2"], ["MNTOR-1"])


def test_a_deploy_moves_what_waits(project: Project) -> None:
    with context(project) as ctx:
        sync(ctx)  # stage runs the first commit
        two_prs(project)
        sync(ctx, deploy=False)
        assert stored(ctx) == {
            "stage": (2, ["MNTOR-1", "MNTOR-2"]),
            "dev": (0, []),
            "prod": (0, []),
        }
        before = by_name(status(ctx))
        assert before["stage"] is not None and before["stage"].count == 2
        assert before["prod"] == Waiting(0, [], [])
        head = project.head()
        execute(ctx, plan(ctx, "stage", head[:7]))
        # Stored by the deploy itself, before anyone reads the status.
        assert stored(ctx) == {
            "stage": (0, []),
            "dev": (2, ["MNTOR-1", "MNTOR-2"]),
            "prod": (2, ["MNTOR-1", "MNTOR-2"]),
        }
    with git_gone(project), context(project) as ctx:
        rows = {r.name: r for r in status(ctx)}
        assert rows["stage"].waiting == Waiting(0, [], [])
        assert rows["prod"].waiting == Waiting(2, ["MNTOR-1", "MNTOR-2"], ["MNTOR-1", "MNTOR-2"])
        assert rows["stage"].deployment is not None and rows["stage"].deployment.commit == head
        assert rows["stage"].health == "healthy" and rows["prod"].health == "stopped"
        # Health is remembered for a few seconds: a stopped instance still shows healthy...
        ctx.runtime.down("monitor", "stage")
        assert {r.name: r.health for r in status(ctx)}["stage"] == "healthy"
        # ...until it expires or a deployment changes (which forgets it).
        health.forget(ctx.settings.state_dir, "monitor", "stage")
        assert {r.name: r.health for r in status(ctx)}["stage"] == "stopped"


def test_a_stale_cache_is_recomputed_and_stored_on_read(project: Project) -> None:
    with context(project) as ctx:
        sync(ctx, deploy=False)
        two_prs(project)
        sync(ctx, deploy=False)
        with ctx.store.write() as s:
            s.execute(
                text(
                    "UPDATE environments SET waiting_base = NULL, waiting_head = NULL, "
                    "waiting_changes = NULL, waiting_tickets = NULL"
                )
            )
        assert stored(ctx)["stage"] == (None, None)
        assert by_name(status(ctx))["stage"] == Waiting(
            2, ["MNTOR-1", "MNTOR-2"], ["MNTOR-1", "MNTOR-2"]
        )
        assert stored(ctx)["stage"] == (2, ["MNTOR-1", "MNTOR-2"])
    with git_gone(project), context(project) as ctx:
        assert by_name(status(ctx))["stage"] == Waiting(
            2, ["MNTOR-1", "MNTOR-2"], ["MNTOR-1", "MNTOR-2"]
        )


def test_a_0002_database_is_upgraded_and_answers(project: Project, db_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    first = project.head()
    two_prs(project)
    head = project.head()
    store = Store(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    assert store.current_revision() == "0002"
    with store.engine.begin() as conn:  # what a 0002 database holds after a sync
        conn.execute(
            text(
                "INSERT INTO apps (name, repo, baseline_sha, last_seen_sha, created_at) "
                "VALUES ('monitor', :repo, :first, :head, CURRENT_TIMESTAMP)"
            ),
            {"repo": str(project.path), "first": first, "head": head},
        )
        for env in ENVS:
            conn.execute(
                text(
                    "INSERT INTO environments (app_id, name) "
                    "SELECT id, :env FROM apps WHERE name = 'monitor'"
                ),
                {"env": env},
            )
    store.migrate()
    assert store.current_revision() == HEAD_REVISION
    store.close()
    with context(project) as ctx:
        assert stored(ctx) == {env: (None, None) for env in ENVS}
        assert by_name(status(ctx))["stage"] == Waiting(
            2, ["MNTOR-1", "MNTOR-2"], ["MNTOR-1", "MNTOR-2"]
        )
        assert stored(ctx)["stage"] == (2, ["MNTOR-1", "MNTOR-2"])
