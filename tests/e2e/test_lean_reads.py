"""The read-only commands' plain forms skip Typer (``shipyard.cli.main``) and say exactly
what the Typer application says for the same arguments, mistakes included; locally they
answer from plain SQLite rows (``services.quick``) and say exactly what the store's path
says, or, when that path would change something first, go through the store.

``SHIPYARD_READ_PATH=quick`` forbids the store's path (a read it cannot answer fails,
saying why), ``full`` forces it: comparing the two shows the quick path was taken and
said the same; a refusal in ``quick`` shows the default run went through the store."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import RELEASER, SHIPYARD, Project, free_port, make_project, stop_all
from shipyard.cli.reads import fast_command

TYPER = "import sys; from shipyard.cli.app import run; sys.argv[0] = 'shipyard'; run()"
BO = ("Bo Dev", "bo@example.com")
REFUSED = "error: the quick read path cannot answer: "
JIRA = """
[tracker]
kind = "jira"
url = "http://127.0.0.1:{port}"
user = "qa@example.com"
token = {{ env = "LEAN_JIRA" }}
verified = ["Done"]
"""
SLOW = ("sqlalchemy", "pydantic", "typer", "shipyard.store.models", "importlib.metadata")


def _env(path: str | None = None, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SHIPYARD_USER": "ana@example.com", "COLUMNS": "200", **extra}
    env.pop("SHIPYARD_URL", None)
    env.pop("SHIPYARD_READ_PATH", None)
    if path is not None:
        env["SHIPYARD_READ_PATH"] = path
    return env


def _run(
    project: Project, *args: str, path: str | None = None, **extra: str
) -> tuple[int, str, str]:
    done = subprocess.run(
        [SHIPYARD, *args], cwd=project.path, capture_output=True, text=True, timeout=120,
        env=_env(path, **extra),
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def _both(project: Project, *args: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    runs = []
    for argv in ([SHIPYARD, *args], [sys.executable, "-c", TYPER, *args]):
        runs.append(
            subprocess.run(
                argv, cwd=project.path, capture_output=True, text=True, timeout=120, env=_env()
            )
        )
    return tuple(runs)


def _db(project: Project) -> Path:
    return project.path / ".shipyard" / "shipyard.db"


def _sql(project: Project, *statements: str) -> None:
    db = sqlite3.connect(_db(project))
    try:
        with db:
            for s in statements:
                db.execute(s)
    finally:
        db.close()


def test_plain_forms_are_parsed_and_anything_else_is_left_to_typer() -> None:
    assert fast_command(["status"]) is not None
    assert fast_command(["history", "prod", "--limit", "5"]) is not None
    assert fast_command(["history", "--limit=5", "prod"]) is not None
    assert fast_command(["diff", "prod", "stage"]) is not None
    assert fast_command(["releases", "--limit", "3"]) is not None
    assert fast_command(["tickets", "--status", "verified"]) is not None
    for args in (
        ["status", "--help"],
        ["status", "extra"],
        ["history"],
        ["history", "prod", "--limit"],
        ["history", "prod", "--limit", "-1"],
        ["history", "prod", "--limit", "5", "--limit", "6"],
        ["history", "prod", "-n", "5"],
        ["diff", "prod"],
        ["releases", "--json"],
        ["tickets", "--status"],
        ["deploy", "prod", "2024.09.01"],
        [],
    ):
        assert fast_command(args) is None, args


@pytest.fixture(scope="module")
def train(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """An app with a release on prod, QA verdicts, an owed re-revert, a failed deploy
    on stage and changes waiting upstream of dev and prod."""
    p = make_project(tmp_path_factory.mktemp("lean") / "monitor")
    try:
        p.ok("sync")
        p.repo.squash_pr(1, "Add alerts MNTOR-1", {"alerts.txt": "on\n"}, author=BO)
        p.repo.squash_pr(2, "Add filters [MNTOR-2]", {"filters.txt": "on\n"}, author=BO)
        p.ok("sync")
        p.ok("prerelease", "--date", "2024-09-01")
        p.ok("qa", "verify", "MNTOR-1", "MNTOR-2")
        p.ok("deploy", "prod", "2024.09.01", "--yes")
        p.ok("revert", "#1", "--reason", "breaks the login page")
        p.repo.commit("Add the footer (MNTOR-7)", p.features("footer"), author=RELEASER)
        p.ok("sync")
        p.ok("qa", "reject", "MNTOR-7", "--reason", "the footer overlaps the menu")
        p.repo.squash_pr(7, "Crash on start MNTOR-8", {"CRASH": "1\n"}, author=BO)
        assert p.run("sync").code == 4
        yield p
    finally:
        stop_all(p)


FORMS = [
    ("status",),
    ("history", "stage"),
    ("history", "prod", "--limit=1"),
    ("history", "dev"),
    ("history", "nowhere"),
    ("history", "prod", "--limit", "99999999999999999999"),
    ("releases",),
    ("releases", "--limit", "0"),
    ("tickets",),
    ("tickets", "--status", "verified"),
    ("tickets", "--status", "rejected"),
    ("tickets", "--status", "lost"),
    ("diff", "prod", "stage"),
    ("diff", "stage", "prod"),
    ("diff", "dev", "stage"),
    ("diff", "prod", "nowhere"),
]


@pytest.mark.parametrize("form", FORMS, ids=" ".join)
def test_the_quick_path_answers_each_form_as_the_store_does(
    train: Project, form: tuple[str, ...]
) -> None:
    quick = _run(train, *form, path="quick")
    assert REFUSED not in quick[2], quick
    assert quick == _run(train, *form, path="full") == _run(train, *form)


def test_the_train_shows_what_the_quick_path_must_get_right(train: Project) -> None:
    status = _run(train, "status", path="quick")[1]
    assert "re-reverts owed (1)" in status
    assert "✗ stage: deployment #" in status and "deploy failed" in status
    assert "prod-2024.09.01" in status and "unverified" in status
    assert "MNTOR-7 rejected" in _run(train, "diff", "prod", "stage", path="quick")[1]


def test_the_lean_path_prints_what_typer_prints(train: Project) -> None:
    for form in FORMS:
        lean, typer = _both(train, *form)
        assert (lean.returncode, lean.stdout, lean.stderr) == (
            typer.returncode,
            typer.stdout,
            typer.stderr,
        ), form


def test_the_quick_path_imports_neither_sqlalchemy_nor_typer(train: Project) -> None:
    for form in (("status",), ("history", "stage"), ("diff", "prod", "stage"), ("releases",),
                 ("tickets",)):  # fmt: skip
        done = subprocess.run(
            [SHIPYARD, *form], cwd=train.path, capture_output=True, text=True, timeout=120,
            env=_env("quick", PYTHONPROFILEIMPORTTIME="1"),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
        assert "shipyard.services.quick" in imported, form
        slow = {m for m in imported if m.startswith(SLOW)}
        assert not slow, (form, slow)


def _falls_back(p: Project, why: str, *form: str) -> None:
    """The quick path refuses (saying ``why``); the default run answers as the store
    does, having done what the store does first (so a second run says the same)."""
    code, out, err = _run(p, *form, path="quick")
    assert (code, out) == (1, "") and err.startswith(REFUSED) and why in err, err
    default = _run(p, *form)
    assert default[0] == 0, default
    assert default == _run(p, *form, path="full")


def test_the_first_use_and_recovery_are_left_to_the_store(project: Project) -> None:
    p = project
    _falls_back(p, "no database yet", "history", "stage")
    p.ok("sync")
    assert _run(p, "history", "stage", path="quick")[0] == 0

    _sql(p, "DELETE FROM environments WHERE name = 'dev'")  # the first use writes it again
    _falls_back(p, "an environment has no row yet", "history", "dev")

    _sql(  # a command that queued a deployment died: recovery cancels it first
        p,
        'INSERT INTO deployments (app_id, environment_id, build_id, "commit", ref, tag,'
        " tag_created, kind, state, requested_by, owner, created_at, updated_at)"
        " SELECT app_id, environment_id, build_id, \"commit\", ref, tag, 0, 'deploy', 'queued',"
        " requested_by, 'elsewhere:1:1', '2020-01-01 00:00:00', '2020-01-01 00:00:00'"
        " FROM deployments LIMIT 1",
    )
    _falls_back(p, "a deployment is queued or in flight", "history", "stage")
    assert "cancelled" in _run(p, "history", "stage", path="quick")[1]

    _sql(p, "UPDATE apps SET name = 'renamed'")  # the first use of "monitor" writes its row
    _falls_back(p, "the app has no row yet", "tickets")


def test_secrets_stale_waits_open_modes_and_jira_are_left_to_the_store(project: Project) -> None:
    p = project
    p.ok("sync")
    _sql(
        p,
        "INSERT INTO config_versions (id, environment_id, version, base_version, state,"
        " created_by, created_at) SELECT 900, id, 1, 0, 'active', 'ana@example.com',"
        " '2024-09-01 10:00:00' FROM environments WHERE name = 'stage'",
        "INSERT INTO config_entries (version_id, name, kind, value, changed_in, changed_by,"
        " changed_at) VALUES (900, 'API_KEY', 'secret', 'sealed', 1, 'ana@example.com',"
        " '2024-09-01 10:00:00')",
    )
    _falls_back(p, "the app has stored secrets", "status")
    _sql(p, "DELETE FROM config_entries", "DELETE FROM config_versions")

    _sql(p, "UPDATE environments SET waiting_head = 'f00d' WHERE name = 'dev'")
    _falls_back(p, "what waits upstream must be computed again", "status")
    assert _run(p, "status", path="quick")[0] == 0

    _db(p).chmod(0o644)  # the store makes it private again before reading
    _falls_back(p, "modes are not private", "releases")
    assert _db(p).stat().st_mode & 0o777 == 0o600

    toml = p.path / "shipyard.toml"
    kept = toml.read_text()
    toml.write_text(kept + JIRA.format(port=free_port()))
    for form in (("tickets",), ("diff", "prod", "stage")):  # Jira is asked, not the board
        code, _, err = _run(p, *form, path="quick", LEAN_JIRA="t")
        assert code == 1 and err == REFUSED + "the tracker is not the built-in one\n", err
    toml.write_text(kept)


def test_a_remote_server_is_asked_and_never_the_local_database(project: Project) -> None:
    project.ok("sync")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: the command says so
    for path in ("quick", "full"):
        done = subprocess.run(
            [SHIPYARD, "history", "stage"], cwd=project.path, capture_output=True, text=True,
            timeout=120, env={**_env(path), "SHIPYARD_URL": url, "SHIPYARD_TOKEN": "t"},
        )  # fmt: skip
        assert done.returncode != 0 and done.stdout == "", done
        assert "127.0.0.1" in done.stderr and "Traceback" not in done.stderr


def test_a_database_the_store_would_change_is_not_read_quickly(tmp_path: Path) -> None:
    from shipyard.store.db import open_store
    from shipyard.store.quick_reads import QuickDb, Unanswered
    from shipyard.store.revision import HEAD_REVISION

    folder = tmp_path / "state"
    url = f"sqlite:///{folder / 'shipyard.db'}"
    open_store(url).close()
    with QuickDb(url) as db:
        assert db.app("monitor") is None
    for other in ("postgresql://shipyard@127.0.0.1:5432/shipyard", "sqlite://", url + "?x=1"):
        with pytest.raises(Unanswered, match="not a SQLite file"):
            QuickDb(other)
    behind = tmp_path / "behind" / "shipyard.db"
    behind.parent.mkdir(mode=0o700)
    shutil.copy(folder / "shipyard.db", behind)
    _set(behind, "UPDATE alembic_version SET version_num = '0010'")
    with pytest.raises(Unanswered, match="head revision"):
        QuickDb(f"sqlite:///{behind}")
    _set(behind, f"UPDATE alembic_version SET version_num = '{HEAD_REVISION}'")
    _set(behind, "PRAGMA journal_mode = DELETE")
    with pytest.raises(Unanswered, match="WAL"):
        QuickDb(f"sqlite:///{behind}")


def _set(path: Path, statement: str) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute(statement)
    finally:
        db.close()
