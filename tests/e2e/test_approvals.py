"""Approvals and soak through the real CLI: several users (SHIPYARD_USER) on one database.

dev needs two approvals from releaser or admin; the requester never counts, a wrong role,
a second approval by the same user, an expired approval and a finished deployment are
refused or not counted, and each refusal leaves the deployment as it was."""

from __future__ import annotations

import os
import re
import subprocess
import time

from conftest import RELEASER, SHIPYARD, Project

APPROVALS = 'tag = "dev-{ref}"\napprovals = 2\napprovers = ["releaser", "admin"]\n'


def _configure(p: Project, extra: str = "") -> str:
    toml = p.path / "shipyard.toml"
    text = toml.read_text().replace('tag = "dev-{ref}"\n', APPROVALS + extra, 1)
    p.repo.commit("Dev needs two approvals", {"shipyard.toml": text}, author=RELEASER)
    for name, role in (("bo", "releaser"), ("cy", "admin"), ("quinn", "qa"), ("ana", "releaser")):
        p.ok("user", "add", name, "--role", role)
    p.ok("sync")
    return p.head()


def _dep_id(out: str) -> int:
    found = re.search(r"deployment #(\d+) to dev awaits approval", out)
    assert found, out
    return int(found.group(1))


def _awaiting(p: Project) -> str:
    return p.ok("deployments", "--awaiting").out


def test_two_others_approve_and_the_last_one_runs_it(project: Project) -> None:
    p = project
    head = _configure(p)
    r = p.ok("deploy", "dev", head[:7], "--yes", "--no-wait", user="ana")
    dep = _dep_id(r.out)
    assert f"'shipyard approve {dep}'" in r.out and p.served("dev") is None
    assert f"#{dep} dev {head[:7]}" in _awaiting(p) and "0 of 2 approvals" in _awaiting(p)

    refusals = {
        "ana": "ana asked for deployment",  # the requester never counts
        "quinn": "role 'qa' may not approve",
        "stranger": "stranger is not a user",
    }
    for user, says in refusals.items():
        r = p.run("approve", str(dep), user=user)  # who they are: exit 1 (like a 403)
        assert r.code == 1 and says in r.err and "Traceback" not in r.text, r.text
        assert len(r.err.strip().splitlines()) == 1
    assert "0 of 2 approvals" in _awaiting(p) and p.served("dev") is None

    assert "1 of 2 approvals (bo)" in p.ok("approve", str(dep), "--reason", "ok", user="bo").out
    r = p.run("approve", str(dep), user="bo")
    assert r.code == 3 and "bo approved deployment" in r.err and "already" in r.err
    assert "1 of 2 approvals (bo)" in _awaiting(p) and p.served("dev") is None

    r = p.ok("approve", str(dep), user="cy")
    assert "2 of 2 approvals (bo, cy)" in r.out and f"dev runs {head[:7]}" in r.out
    assert p.served("dev") == head
    assert "no deployment awaits approval" in _awaiting(p)
    r = p.run("approve", str(dep), user="ana")
    assert r.code == 3 and f"deployment #{dep} is succeeded" in r.err
    log = p.ok("audit", "log", "--limit", "60").out
    assert log.count("deployment.approved") == 2 and "deployment.awaiting_approval" in log


def test_a_waiting_deploy_runs_itself_when_the_last_approval_arrives(project: Project) -> None:
    p = project
    head = _configure(p)
    env = {**os.environ, "SHIPYARD_USER": "ana", "COLUMNS": "200"}
    args = [SHIPYARD, "deploy", "dev", head[:7], "--yes", "--approval-timeout", "120"]
    with subprocess.Popen(
        args, cwd=p.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        deadline = time.monotonic() + 60
        while "0 of 2" not in _awaiting(p):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        dep = int(re.search(r"#(\d+) dev", _awaiting(p)).group(1))  # type: ignore[union-attr]
        p.ok("approve", str(dep), user="bo")
        r = p.ok("approve", str(dep), user="cy")
        assert "in the command that asked for it" in r.out
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    assert "awaiting approval: " in out and "needs 2 more from releaser or admin" in out
    assert f"dev runs {head[:7]}" in out and p.served("dev") == head


def test_expired_approvals_do_not_count_and_cancel_ends_it(project: Project) -> None:
    p = project
    head = _configure(p, 'approval_ttl = "1s"\n')
    dep = _dep_id(p.ok("deploy", "dev", head[:7], "--yes", "--no-wait", user="ana").out)
    p.ok("approve", str(dep), user="bo")
    time.sleep(1.5)  # bo's approval is older than approval_ttl now
    assert "1 of 2 approvals (cy)" in p.ok("approve", str(dep), user="cy").out
    assert p.served("dev") is None
    r = p.run("cancel", str(dep), user="quinn")
    assert r.code == 1 and "quinn may not cancel" in r.err
    assert f"#{dep} dev" in _awaiting(p)
    assert (
        f"deployment #{dep} cancelled"
        in p.ok("cancel", str(dep), "--reason", "later", user="ana").out
    )
    r = p.run("approve", str(dep), user="bo")
    assert r.code == 3 and "is cancelled" in r.err
    r = p.run("cancel", str(dep), user="ana")
    assert r.code == 3 and "is cancelled" in r.err
    assert p.served("dev") is None and "no deployment awaits approval" in _awaiting(p)


def test_soak_refuses_with_what_remains(project: Project) -> None:
    p = project
    toml = p.path / "shipyard.toml"
    text = toml.read_text().replace('tag = "dev-{ref}"\n', 'tag = "dev-{ref}"\nsoak = "2h"\n', 1)
    p.repo.commit("Dev soaks two hours on stage", {"shipyard.toml": text}, author=RELEASER)
    p.ok("sync")
    head = p.head()
    r = p.run("deploy", "dev", head[:7], "--yes")
    assert r.code == 3 and "Traceback" not in r.text
    assert f"{head[:7]} has run on stage for" in r.err and "of 2h:" in r.err and "to go" in r.err
    assert "soaked on stage" in r.out  # the gate line of the plan
    assert p.served("dev") is None and "no deployment awaits approval" in _awaiting(p)
