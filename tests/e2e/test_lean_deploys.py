"""``deploy ENV REF --yes [--reason R]``, ``rollback ENV --reason R --yes`` and ``sync
[--no-deploy]`` skip Typer (``shipyard.cli.main``), deploy, roll back and sync as the Typer
commands do, and say exactly what the Typer application says for the same mistakes and
refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import RELEASER, SHIPYARD, Project
from shipyard.cli.deploys import fast_command

TYPER = "import sys; from shipyard.cli.app import run; sys.argv[0] = 'shipyard'; run()"


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "SHIPYARD_USER": "ana@example.com", "COLUMNS": "200", **extra}
    env.pop("SHIPYARD_URL", None)
    return env


def _run(project: Project, argv: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=project.path,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(**extra),
        stdin=subprocess.DEVNULL,
    )


def test_plain_forms_are_parsed_and_anything_else_is_left_to_typer() -> None:
    for args in (
        ["deploy", "stage", "1a2b3c4", "--yes"],
        ["deploy", "stage", "1a2b3c4", "-y", "--reason", "back one"],
        ["deploy", "--reason=back one", "stage", "--yes", "1a2b3c4"],
        ["rollback", "stage", "--reason", "broken", "--yes"],
        ["rollback", "stage", "-y"],
        ["sync"],
        ["sync", "--no-deploy"],
    ):
        assert fast_command(args) is not None, args
    for args in (
        ["deploy", "stage", "1a2b3c4"],  # asks first: Typer's prompt
        ["deploy", "stage", "1a2b3c4", "--yes", "--help"],
        ["deploy", "stage", "--yes"],
        ["deploy", "stage", "1a2b3c4", "extra", "--yes"],
        ["deploy", "stage", "1a2b3c4", "--yes", "--yes"],
        ["deploy", "stage", "1a2b3c4", "--yes", "--reason"],
        ["deploy", "stage", "1a2b3c4", "--yes", "--reason", "-y"],
        ["deploy", "stage", "1a2b3c4", "--yes", "--reason", "a", "--reason", "b"],
        ["deploy", "stage", "1a2b3c4", "--yes", "--reason="],
        ["deploy", "stage", "1a2b3c4", "--yes", "--no-wait"],
        ["deploy", "stage", "1a2b3c4", "--yes", "--allow-unverified", "--reason", "x"],
        ["rollback", "stage", "--reason", "broken"],
        ["rollback", "--yes"],
        ["status"],
        ["sync", "--help"],
        ["sync", "--no-deploy", "--no-deploy"],
        ["sync", "main"],
        ["sync", "--no-deplo"],
        [],
    ):
        assert fast_command(args) is None, args


def test_mistakes_and_refusals_read_as_typer_says_them(project: Project) -> None:
    project.ok("sync")
    sha = project.head()[:7]
    forms = [
        ("deploy", "nowhere", sha, "--yes"),
        ("deploy", "stage", "nosuchref", "--yes"),
        ("deploy", "prod", sha, "--yes"),  # prod takes release tags only
        ("deploy", "dev", "0000000", "--yes"),
        ("rollback", "dev", "--reason", "bad", "--yes"),
        ("rollback", "stage", "--yes"),
    ]
    for form in forms:
        lean = _run(project, [SHIPYARD, *form])
        typer = _run(project, [sys.executable, "-c", TYPER, *form])
        assert lean.returncode != 0, (form, lean.stdout)
        assert (lean.returncode, lean.stdout, lean.stderr) == (
            typer.returncode,
            typer.stdout,
            typer.stderr,
        ), form
        assert "Traceback" not in lean.stderr


def test_a_deploy_and_a_rollback_without_typer(project: Project) -> None:
    project.ok("sync")
    first = project.head()
    project.repo.squash_pr(
        2, "Add the footer (MNTOR-7)", project.features("footer"), author=RELEASER
    )
    project.ok("sync", "--no-deploy")
    second = project.head()
    deployed = _run(
        project, [SHIPYARD, "deploy", "stage", second[:7], "--yes"], PYTHONPROFILEIMPORTTIME="1"
    )
    assert deployed.returncode == 0, deployed.stderr
    assert f"✓ stage runs {second[:7]}, tagged" in deployed.stdout
    assert project.served("stage") == second
    imported = {line.rsplit("|", 1)[-1].strip() for line in deployed.stderr.splitlines()}
    assert "shipyard.cli.deploys" in imported
    assert not {m for m in imported if m.split(".")[0] in ("typer", "pydantic")}
    back = _run(project, [SHIPYARD, "rollback", "stage", "--reason", "footer broken", "-y"])
    assert back.returncode == 0, back.stderr
    assert "stage rolled back to " in back.stdout and first[:7] in back.stdout
    assert project.served("stage") == first
    history = project.ok("history", "stage").out
    assert "rollback" in history and "footer broken" in history


def test_a_sync_without_typer_builds_deploys_and_says_what_typer_says(
    project: Project, tmp_path: Path
) -> None:
    synced = _run(project, [SHIPYARD, "sync"], PYTHONPROFILEIMPORTTIME="1")
    assert synced.returncode == 0, synced.stderr
    assert project.served("stage") == project.head()
    imported = {line.rsplit("|", 1)[-1].strip() for line in synced.stderr.splitlines()}
    assert "shipyard.cli.deploys" in imported
    assert not {m for m in imported if m.split(".")[0] in ("typer", "pydantic")}
    for form in (("sync",), ("sync", "--no-deploy")):  # nothing new: the same words
        lean = _run(project, [SHIPYARD, *form])
        typer = _run(project, [sys.executable, "-c", TYPER, *form])
        assert lean.returncode == 0 and "up to date: nothing new on main" in lean.stdout
        assert (lean.returncode, lean.stdout, lean.stderr) == (
            typer.returncode,
            typer.stdout,
            typer.stderr,
        ), form
    # Outside any app: the same one line, the same exit code.
    elsewhere = {"SHIPYARD_CONFIG": str(tmp_path / "missing.toml")}
    lean = _run(project, [SHIPYARD, "sync"], **elsewhere)
    typer = _run(project, [sys.executable, "-c", TYPER, "sync"], **elsewhere)
    assert lean.returncode == 1 and "Traceback" not in lean.stderr
    assert (lean.returncode, lean.stdout, lean.stderr) == (
        typer.returncode,
        typer.stdout,
        typer.stderr,
    )
