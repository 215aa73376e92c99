"""``approve N [--reason R]`` skips Typer (``shipyard.cli.main``, ``shipyard.cli.approvals``),
approves and runs the approved deployment as the Typer command does, and says exactly
what it says for the same refusals; any other form is left to Typer."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import RELEASER, SHIPYARD, Project, running_server
from shipyard.cli.approvals import fast_command

TYPER = "import sys; from shipyard.cli.app import run; sys.argv[0] = 'shipyard'; run()"
ONE = 'tag = "dev-{ref}"\napprovals = 1\napprovers = ["releaser", "admin"]\n'


def _run(p: Project, argv: list[str], user: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHIPYARD_USER": user, "COLUMNS": "200", **extra}
    env.pop("SHIPYARD_URL", None)
    return subprocess.run(
        argv, cwd=p.path, capture_output=True, text=True, timeout=120, env=env,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _both(p: Project, user: str, *args: str) -> tuple[tuple[int, str, str], ...]:
    """(exit code, stdout, stderr) of the lean command, then of the Typer command."""
    lean = _run(p, [SHIPYARD, *args], user)
    typer = _run(p, [sys.executable, "-c", TYPER, *args], user)
    return tuple((r.returncode, r.stdout, r.stderr) for r in (lean, typer))


def test_only_a_number_and_a_reason_are_taken_and_anything_else_is_left_to_typer() -> None:
    for args in (
        ["approve", "7"],
        ["approve", "7", "--reason", "looks right"],
        ["approve", "--reason", "looks right", "7"],
        ["approve", "7", "--reason=looks right"],
        ["approve", "--reason=", "007"],
    ):
        assert fast_command(args) is not None, args
    for args in (
        ["approve"],  # Typer says the number is missing
        ["approve", "seven"],
        ["approve", "-7"],
        ["approve", "7", "--help"],
        ["approve", "7", "8"],
        ["approve", "7", "--reason"],
        ["approve", "7", "--reason", "-x"],
        ["approve", "7", "--reason", "a", "--reason", "b"],
        ["approve", "\u0667"],  # a digit, not an ASCII one
        ["approve", "9" * 19],
        ["cancel", "7"],
    ):
        assert fast_command(args) is None, args


def test_approve_without_typer_runs_the_deployment_and_refuses_as_typer_does(
    project: Project,
) -> None:
    p = project
    toml = p.path / "shipyard.toml"
    text = toml.read_text().replace('tag = "dev-{ref}"\n', ONE, 1)
    p.repo.commit("Dev needs an approval", {"shipyard.toml": text}, author=RELEASER)
    for name, role in (("bo", "releaser"), ("ana", "releaser"), ("quinn", "qa")):
        p.ok("user", "add", name, "--role", role)
    p.ok("sync")
    head = p.head()
    asked = p.ok("deploy", "dev", head[:7], "--yes", "--no-wait", user="ana").out
    found = re.search(r"deployment #(\d+) to dev awaits approval", asked)
    assert found, asked
    dep = found.group(1)

    # Refusals, before and after: the same words and exit codes as the Typer command.
    for user, args in (
        ("ana", (dep,)),  # the requester
        ("quinn", (dep, "--reason", "looks right")),  # a role that may not approve
        ("bo", ("999",)),  # no such deployment
    ):
        lean, typer = _both(p, user, "approve", *args)
        assert lean == typer, (user, args)
        assert lean[0] != 0 and lean[2].count("\n") == 1 and "Traceback" not in lean[2]
    assert p.served("dev") is None

    done = _run(p, [SHIPYARD, "approve", dep, "--reason", "checked"], "bo",
                PYTHONPROFILEIMPORTTIME="1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 of 1 approval (bo)" in done.stdout and f"dev runs {head[:7]}" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "shipyard.cli.approvals" in imported
    assert not {m for m in imported if m.split(".")[0] in ("typer", "pydantic")}
    assert p.served("dev") == head
    lean, typer = _both(p, "bo", "approve", dep)  # finished: refused alike
    assert lean == typer and lean[0] == 3 and f"deployment #{dep} is succeeded" in lean[2]


def _remote(p: Project, url: str, token: str, argv: list[str]) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env.update(SHIPYARD_URL=url, SHIPYARD_TOKEN=token, COLUMNS="200")
    r = subprocess.run(
        argv, cwd=p.path, capture_output=True, text=True, timeout=120, env=env,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return r.returncode, r.stdout, r.stderr


def test_a_remote_approve_without_typer_says_what_typer_says(project: Project) -> None:
    p = project
    text = (p.path / "shipyard.toml").read_text().replace('tag = "dev-{ref}"\n', ONE, 1)
    p.repo.commit("Dev needs an approval", {"shipyard.toml": text}, author=RELEASER)
    p.ok("sync")
    head = p.head()
    with running_server(p.path) as srv:
        tokens = {}
        for name in ("ana", "bo"):
            p.ok("user", "add", name, "--role", "releaser")
            tokens[name] = p.ok("token", "create", "--user", name).out.strip().splitlines()[-1]
        asked = _remote(p, srv.url, tokens["ana"], [SHIPYARD, "deploy", "dev", head[:7],
                                                    "--yes", "--no-wait"])  # fmt: skip
        found = re.search(r"deployment #(\d+) to dev awaits approval", asked[1])
        assert asked[0] == 0 and found, asked
        dep = found.group(1)
        lean, typer = (  # the requester: refused by the server, in the same words
            _remote(p, srv.url, tokens["ana"], argv)
            for argv in ([SHIPYARD, "approve", dep], [sys.executable, "-c", TYPER, "approve", dep])
        )
        assert lean == typer and lean[0] == 1 and "ana asked for deployment" in lean[2], lean
        code, out, err = _remote(p, srv.url, tokens["bo"], [SHIPYARD, "approve", dep])
        assert code == 0, err
        assert f"approved: #{dep} dev {head[:7]}" in out and "1 of 1 approval (bo)" in out
        assert f"deployment #{dep} runs now: 'shipyard history dev'" in out
