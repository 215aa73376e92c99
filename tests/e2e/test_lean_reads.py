"""The read-only commands' plain forms skip Typer (``shipyard.cli.main``) and say exactly
what the Typer application says for the same arguments, mistakes included."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import RELEASER, SHIPYARD, Project
from shipyard.cli.reads import fast_command

TYPER = "import sys; from shipyard.cli.app import run; sys.argv[0] = 'shipyard'; run()"


def _both(project: Project, *args: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    env = {**os.environ, "SHIPYARD_USER": "ana@example.com", "COLUMNS": "200"}
    env.pop("SHIPYARD_URL", None)
    runs = []
    for argv in ([SHIPYARD, *args], [sys.executable, "-c", TYPER, *args]):
        runs.append(
            subprocess.run(
                argv, cwd=project.path, capture_output=True, text=True, timeout=120, env=env
            )
        )
    return tuple(runs)


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


def test_the_lean_path_prints_what_typer_prints(project: Project) -> None:
    project.ok("sync")
    project.repo.commit("Add the footer (MNTOR-7)", project.features("footer"), author=RELEASER)
    project.ok("sync", "--no-deploy")
    forms = [
        ("history", "stage"),
        ("history", "stage", "--limit=1"),
        ("history", "nowhere"),
        ("releases",),
        ("tickets",),
        ("tickets", "--status", "verified"),
        ("diff", "prod", "stage"),
        ("diff", "prod", "nowhere"),
    ]
    for form in forms:
        lean, typer = _both(project, *form)
        assert (lean.returncode, lean.stdout, lean.stderr) == (
            typer.returncode,
            typer.stdout,
            typer.stderr,
        ), form
    lean, typer = _both(project, "status")
    assert lean.returncode == typer.returncode == 0, lean.stderr
    assert lean.stdout.splitlines()[:3] == typer.stdout.splitlines()[:3]


def test_the_lean_path_does_not_import_typer(project: Project) -> None:
    env = {**os.environ, "SHIPYARD_USER": "ana@example.com", "PYTHONPROFILEIMPORTTIME": "1"}
    env.pop("SHIPYARD_URL", None)
    done = subprocess.run(
        [SHIPYARD, "history", "stage"], cwd=project.path, capture_output=True, text=True,
        timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "no deployments to stage yet" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "shipyard.cli.reads" in imported
    assert not {m for m in imported if m.split(".")[0] == "typer"}
