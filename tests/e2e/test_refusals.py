"""Bad input gets one readable line, a non-zero exit, and changes nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import SHIPYARD, Project, Result, make_project, stop_all

BO = ("Bo Dev", "bo@example.com")


@dataclass
class World:
    p: Project
    overtaken: str  # built and green, never deployed to stage
    broken: str  # its checks failed
    unbuilt: str  # on main, never synced
    off_main: str  # on a branch only


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    p = make_project(tmp_path_factory.mktemp("refusals") / "monitor")
    try:
        p.ok("sync")
        p.repo.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
        overtaken = p.head()
        p.repo.squash_pr(2, "Add filters MNTOR-2", p.features("filters"), author=BO)
        p.ok("sync")
        p.ok("prerelease", "--date", "2024-09-01")
        p.repo.squash_pr(3, "Break things MNTOR-3", {"features.json": "oops\n"}, author=BO)
        p.ok("sync")
        broken = p.head()
        p.repo.git("checkout", "-q", "-b", "side")
        p.repo.commit("Side work MNTOR-4", {"side.txt": "x\n"}, author=BO)
        off_main = p.head()
        p.repo.git("tag", "2024.09.02", off_main)
        p.repo.git("checkout", "-q", "main")
        p.repo.squash_pr(5, "Not synced yet MNTOR-5", {"features.json": "[]\n"}, author=BO)
        yield World(p, overtaken, broken, p.head(), off_main)
    finally:
        stop_all(p)


def snapshot(p: Project) -> dict[str, object]:
    """Everything a refused action must leave as it was (read straight from the sources)."""
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        rows = {
            "releases": db.execute("SELECT tag, latest FROM releases ORDER BY id").fetchall(),
            "tickets": db.execute("SELECT key, status FROM tickets ORDER BY key").fetchall(),
            "succeeded": db.execute(
                "SELECT count(*) FROM deployments WHERE state = 'succeeded'"
            ).fetchall(),
            "current": db.execute(
                "SELECT name, current_deployment_id FROM environments ORDER BY name"
            ).fetchall(),
        }
    finally:
        db.close()
    return {
        "git tags": p.git_tags(),
        "artifact tags": p.artifact_tags(),
        "served": {env: p.served(env) for env in ("stage", "dev", "prod")},
        **rows,
    }


def assert_one_line_error(r: Result, expected: str, code: int | None = None) -> None:
    assert r.code != 0, r.text
    if code is not None:
        assert r.code == code, r.text
    assert "Traceback" not in r.text
    last = r.err.strip().splitlines()[-1]
    assert last.startswith("error: "), r.err
    assert expected in last, f"{expected!r} not in {last!r}"


CASES = [
    (("deploy", "qa", "2024.09.01"), "unknown environment 'qa'"),
    (("deploy", "prod", "2024.9.1"), "prod does not accept '2024.9.1'"),
    (("deploy", "prod", "prod-2024.09.01"), "prod does not accept 'prod-2024.09.01'"),
    (("deploy", "prod", "2024.09.01.x"), "prod does not accept '2024.09.01.x'"),
    (("deploy", "prod", "main"), "prod does not accept 'main'"),
    (("deploy", "dev", "2024.09.01"), "dev does not accept '2024.09.01'"),
    (("deploy", "prod", "2030.01.01"), "no release tag 2030.01.01"),
    (("deploy", "prod", "2024.09.01"), "unverified tickets: MNTOR-1 (merged), MNTOR-2 (merged)"),
    (("deploy", "prod", "2024.09.01", "--allow-unverified"), "needs --reason"),
    (("deploy", "prod", "2024.09.02"), "is not on main"),
    (("deploy", "dev", "abcdef0"), "no tag or commit named 'abcdef0'"),
    (("rollback", "dev", "--reason", "bad"), "dev has no deployment to roll back"),
    (("rollback", "stage"), 'a rollback of stage needs --reason "..." saying why'),
    (("qa", "verify", "MNTOR-999"), "unknown ticket: MNTOR-999"),
    (("qa", "reject", "MNTOR-1", "--reason", " "), "--reason must say what is wrong"),
    (("prerelease", "--date", "2024-13-01"), "--date must be YYYY-MM-DD"),
    (("logs", "abcdef0", "unit"), "no build abcdef0"),
]


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_refused_and_nothing_changed(world: World, args: tuple[str, ...], expected: str) -> None:
    before = snapshot(world.p)
    r = world.p.run(*args, "--yes") if args[0] in ("deploy", "rollback") else world.p.run(*args)
    assert_one_line_error(r, expected)
    assert snapshot(world.p) == before


def test_commit_never_deployed_upstream(world: World) -> None:
    before = snapshot(world.p)
    r = world.p.run("deploy", "dev", world.overtaken[:7], "--yes")
    assert_one_line_error(
        r, f"{world.overtaken[:7]} was never deployed successfully to stage", code=3
    )
    assert snapshot(world.p) == before


def test_build_whose_checks_failed(world: World) -> None:
    before = snapshot(world.p)
    r = world.p.run("deploy", "dev", world.broken[:7], "--yes")
    assert_one_line_error(r, f"the build of {world.broken[:7]} failed (unit)", code=3)
    assert snapshot(world.p) == before


def test_commit_off_main_by_sha(world: World) -> None:
    before = snapshot(world.p)
    r = world.p.run("deploy", "dev", world.off_main[:7], "--yes")
    assert_one_line_error(r, "is not on main")
    assert snapshot(world.p) == before


def test_artifact_missing_after_the_wait(world: World) -> None:
    before = snapshot(world.p)
    r = world.p.run("deploy", "stage", world.unbuilt[:7], "--yes")
    assert_one_line_error(r, f"the artifact of {world.unbuilt[:7]} did not appear within 2s")
    assert "waiting up to 2s" in r.out
    assert snapshot(world.p) == before
    assert "did not appear" in world.p.ok("history", "stage").out


def test_busy_environment_queues_and_says_so(world: World) -> None:
    """Another live command holds prod: a deploy waits in line, says so, and gives up when told."""
    from shipyard.config import load
    from shipyard.core import states as st
    from shipyard.services.context import open_context
    from shipyard.services.owners import owner_id
    from shipyard.store.models import Deployment

    p = world.p
    p.ok("qa", "verify", "MNTOR-1", "MNTOR-2", user="qa@example.com")
    ctx = open_context(load(p.path / "shipyard.toml"), actor="other@example.com")
    now = datetime.now(UTC)
    with ctx.store.write() as s:
        env = ctx.environment_row(s, "prod")
        holder = Deployment(
            app_id=ctx.app_id,
            environment_id=env.id,
            commit="0" * 40,
            ref="2024.09.01",
            tag="prod-2024.09.01",
            kind="deploy",
            state=st.ROLLING_OUT,
            tag_created=False,
            requested_by="other@example.com",
            owner=owner_id(),
            created_at=now,
            updated_at=now,
        )
        s.add(holder)
    try:
        before = snapshot(p)
        r = p.run("deploy", "prod", "2024.09.01", "--yes", "--queue-timeout", "0")
        assert_one_line_error(
            r,
            f"prod is busy: deployment #{holder.id} (2024.09.01 by other@example.com) "
            "is rolling out",
            code=3,
        )
        r = p.run("deploy", "prod", "2024.09.01", "--yes", "--queue-timeout", "1")
        assert "is number 1 in line, waiting" in r.err
        assert_one_line_error(r, "gave up after 1s", code=3)
        after = snapshot(p)
        assert after == before
        assert p.ok("history", "prod").out.count("cancelled") == 2
    finally:
        with ctx.store.write() as s:
            row = s.get(Deployment, holder.id)
            assert row is not None
            row.state = st.FAILED
        ctx.close()
    # with the environment free again, the same deploy goes through
    p.ok("deploy", "prod", "2024.09.01", "--yes")
    assert p.served("prod") is not None


def _run_in(cwd: Path, *args: str) -> Result:
    proc = subprocess.run(
        [SHIPYARD, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SHIPYARD_USER": "x@example.com"},
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def test_missing_config(tmp_path: Path) -> None:
    r = _run_in(tmp_path, "status")
    assert_one_line_error(r, "no shipyard.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[app]\nname='x'\nrun='r'\n[environments.prod]\nport=99999\n",
            "environments -> prod -> port",
        ),
        ("[app]\nname='x'\n[environments.prod]\nport=1\n", "app -> run: is required"),
        (
            "[app]\nname='x'\nrun='r'\n[environments.prod]\nport=1\naccepts='('\n",
            "environments -> prod -> accepts: not a valid regular expression",
        ),
        (
            "[app]\nname='x'\nrun='r'\n[environments.prod]\nport=1\nafter='stage'\n",
            "environments -> prod -> after: no environment named 'stage'",
        ),
        (
            "[app]\nname='x'\nrun='r'\n[environments.prod]\nport=1\ntag='prod'\n",
            "environments -> prod -> tag",
        ),
        (
            "[app]\nname='x'\nrun='r'\nbogus=1\n[environments.prod]\nport=1\n",
            "app -> bogus: is not a known setting",
        ),
        ("[app\n", "not valid TOML"),
    ],
)
def test_invalid_config_names_the_field(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "shipyard.toml").write_text(text)
    r = _run_in(tmp_path, "status")
    assert_one_line_error(r, expected)


def test_not_a_git_repository(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text(
        "[app]\nname='x'\nrun='r'\n[environments.stage]\nport=1\nauto=true\n"
    )
    r = _run_in(tmp_path, "sync")
    assert_one_line_error(r, "not a git repository")
    r = _run_in(tmp_path, "init")
    assert_one_line_error(r, "not a git repository")
    assert not (tmp_path / ".shipyard" / "artifacts").exists()


def test_app_that_crashes_or_never_gets_healthy_keeps_the_old_one(project: Project) -> None:
    p = project
    p.ok("sync")
    good = p.head()
    p.repo.squash_pr(7, "Crash on start MNTOR-8", {"CRASH": "1\n"}, author=BO)
    r = p.run("sync")
    assert "exited" in r.err and "crash" in r.err.lower()
    assert p.served("stage") == good
    p.repo.squash_pr(
        8, "Stop crashing, but be unhealthy MNTOR-9", {"UNHEALTHY": "1\n", "CRASH": ""}, author=BO
    )
    p.repo.git("rm", "-q", "CRASH")
    p.repo.git("commit", "-q", "-m", "Remove crash file (#9)")
    r = p.run("sync")
    assert "not healthy" in r.err
    assert p.served("stage") == good
    hist = p.ok("history", "stage").out
    assert hist.count("failed") == 2
    assert p.ok("audit", "verify").code == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("qa", "reject", "MNTOR-1"),
            "missing option '--reason' (see 'shipyard qa reject --help')",
        ),
        (("stauts",), "no such command 'stauts'. Did you mean 'status'"),
        (("status", "--jsn"), "no such option: --jsn (see 'shipyard status --help')"),
        (("history",), "missing argument 'ENV' (see 'shipyard history --help')"),
        (("history", "stage", "--limit", "abc"), "invalid value for '--limit': not a whole number"),
        (("deploy", "stage"), "missing argument 'REF' (see 'shipyard deploy --help')"),
    ],
)
def test_a_wrong_command_line_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    """What Typer cannot parse: one line naming the mistake and the --help to read, as
    every other mistake is (not Click's usage block), and the exit code for usage errors."""
    r = _run_in(tmp_path, *args)
    assert r.code == 2, r.text
    assert r.out == ""
    (line,) = r.err.strip().splitlines()
    assert line.startswith("error: ") and expected in line, line
    assert "Traceback" not in r.err


def test_a_rollback_with_nothing_to_return_to_is_refused_not_missing(world: World) -> None:
    """A rule refuses it (exit 3; the API's and the page's 409), as any gate does: the
    environment exists, it only has nowhere to go back to."""
    before = snapshot(world.p)
    r = world.p.run("rollback", "dev", "--reason", "bad", "--yes")
    assert_one_line_error(r, "dev has no deployment to roll back", code=3)
    assert snapshot(world.p) == before
