"""``qa verify KEY...`` skips Typer (``shipyard.cli.main``, ``shipyard.cli.qa``), signs the
tickets off as the Typer command does, and says exactly what it says, mistakes included;
any other form is left to Typer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import RELEASER, SHIPYARD, Project
from shipyard.cli.qa import fast_command

TYPER = "import sys; from shipyard.cli.app import run; sys.argv[0] = 'shipyard'; run()"
BO = ("Bo Dev", "bo@example.com")


def _run(project: Project, argv: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHIPYARD_USER": "qa@example.com", "COLUMNS": "200", **extra}
    env.pop("SHIPYARD_URL", None)
    return subprocess.run(
        argv,
        cwd=project.path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _both(project: Project, *args: str, **extra: str) -> tuple[tuple[int, str, str], ...]:
    """(exit code, stdout, stderr) of the lean command, then of the Typer command."""
    lean = _run(project, [SHIPYARD, *args], **extra)
    typer = _run(project, [sys.executable, "-c", TYPER, *args], **extra)
    return tuple((r.returncode, r.stdout, r.stderr) for r in (lean, typer))


def test_only_keys_are_taken_and_anything_else_is_left_to_typer() -> None:
    for args in (["qa", "verify", "MNTOR-1"], ["qa", "verify", "mntor-1", "MNTOR-2"]):
        assert fast_command(args) is not None, args
    for args in (
        ["qa", "verify"],  # Typer says a key is missing
        ["qa", "verify", "--help"],
        ["qa", "verify", "MNTOR-1", "--help"],
        ["qa", "verify", "--", "MNTOR-1"],
        ["qa", "verify", "-x"],
        ["qa", "reject", "MNTOR-1"],
        ["qa"],
    ):
        assert fast_command(args) is None, args


def test_verify_without_typer_signs_off_and_says_what_typer_says(
    project: Project, tmp_path: Path
) -> None:
    p = project
    p.repo.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
    p.repo.squash_pr(2, "Fix footer MNTOR-2", p.features("footer"), author=RELEASER)
    p.ok("sync", "--no-deploy")

    signed = _run(p, [SHIPYARD, "qa", "verify", "mntor-1"], PYTHONPROFILEIMPORTTIME="1")
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout == "✓ MNTOR-1 verified by qa@example.com\n"
    imported = {line.rsplit("|", 1)[-1].strip() for line in signed.stderr.splitlines()}
    assert "shipyard.cli.qa" in imported
    assert not {m for m in imported if m.split(".")[0] in ("typer", "pydantic")}
    tickets = p.ok("tickets").out
    assert "MNTOR-1" in tickets and "MNTOR-2" in tickets

    # Signing off again, two keys, and mistakes: the same words and exit codes as Typer.
    for args in (("MNTOR-1",), ("MNTOR-2", "MNTOR-1"), ("MNTOR-404",), ("MNTOR-1", "nope")):
        lean, typer = _both(p, "qa", "verify", *args)
        assert lean == typer, args
        assert "Traceback" not in lean[2]
    lean, _ = _both(p, "qa", "verify", "MNTOR-404")
    assert lean[0] == 1 and lean[2].count("\n") == 1 and "MNTOR-404" in lean[2]
    # Outside any app: one line, as Typer says it.
    missing = str(tmp_path / "missing.toml")
    lean, typer = _both(p, "qa", "verify", "MNTOR-1", SHIPYARD_CONFIG=missing)
    assert lean == typer and lean[0] == 1
