"""Failed deployments are seen everywhere, exit non-zero, and are not retried by automation."""

from __future__ import annotations

import socket

from conftest import Project

BO = ("Bo Dev", "bo@example.com")
CRASH_PR = (7, "Crash on start MNTOR-8", {"CRASH": "1\n"})


def _crash(p: Project) -> str:
    """Merge a change whose app exits at start; its build passes (the unit test does not
    start the app)."""
    number, title, files = CRASH_PR
    p.repo.squash_pr(number, title, files, author=BO)
    return p.head()


def test_sync_that_cannot_deploy_exits_4_and_says_why(project: Project) -> None:
    p = project
    p.ok("sync")
    good = p.head()
    bad = _crash(p)
    r = p.run("sync")
    assert r.code == 4, r.text
    assert "Traceback" not in r.text
    last = r.err.strip().splitlines()[-1]
    assert last.startswith("error: 1 deployment failed: stage: ") and "exited with code 1" in last
    assert p.served("stage") == good

    status = p.ok("status").out
    stage = next(line for line in status.splitlines() if line.startswith("stage"))
    assert "deploy failed" in stage and "healthy" not in stage
    assert "✗ stage: deployment #2 failed" in status
    assert f"of {bad[:7]}, failed:" in status and "exited with code 1" in status
    assert f"{good[:7]} still serves" in status
    assert f"shipyard logs stage --commit {bad[:7]}" in status

    builds = p.ok("builds").out
    assert "deploy failed on stage" in builds
    assert "failed" in p.ok("history", "stage").out


def test_a_failed_build_is_not_tried_again_until_the_next_green_one(project: Project) -> None:
    p = project
    p.ok("sync")
    good = p.head()
    bad = _crash(p)
    assert p.run("sync").code == 4
    again = p.ok("sync")  # nothing new: the failed build is not deployed again
    assert f"stage: not trying {bad[:7]} again: deployment #2 of it failed" in again.out
    assert "shipyard deploy stage" in again.out
    hist = p.ok("history", "stage").out
    assert hist.count("failed") == 1

    # An explicit deploy tries again (and fails again, exit 4).
    r = p.run("deploy", "stage", bad[:7], "--yes")
    assert r.code == 4 and "exited with code 1" in r.err
    assert p.ok("history", "stage").out.count("failed") == 2

    # The next green build is tried, and heals the environment.
    p.repo.git("rm", "-q", "CRASH")
    p.repo.git("commit", "-q", "-m", "Remove crash file (#9)")
    p.ok("sync")
    assert p.served("stage") == p.head() != good
    status = p.ok("status").out
    stage = next(line for line in status.splitlines() if line.startswith("stage"))
    assert "healthy" in stage and "deploy failed" not in status
    assert "deploy failed on" not in p.ok("builds").out


def test_port_in_use_fails_sync_and_deploy(project: Project) -> None:
    p = project
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", p.ports["stage"]))
        holder.listen()
        r = p.run("sync")
        assert r.code == 4, r.text
        assert f"port {p.ports['stage']} is in use by another process" in r.err
        head = p.head()[:7]
        r = p.run("deploy", "stage", head, "--yes")
        assert r.code == 4, r.text
        assert "is in use" in r.err.strip().splitlines()[-1]
        assert "Traceback" not in r.text
    assert "deploy failed" in p.ok("status").out


def test_logs_of_an_environment_and_of_a_failed_deployment(project: Project) -> None:
    p = project
    p.ok("sync")
    good = p.head()
    r = p.ok("logs", "stage")
    assert "listening on http://" in r.out
    assert f"stage: the instance of {good[:12]}" in r.err and "(serving)" in r.err
    assert "unit" not in r.err

    bad = _crash(p)
    assert p.run("sync").code == 4
    r = p.ok("logs", "stage", "--commit", bad[:7])
    assert "refusing to start: this release is marked to crash" in r.out
    assert "(not serving)" in r.err
    r = p.ok("logs", "stage", "-n", "1")  # the serving one still
    assert f"instance of {good[:12]}" in r.err and "(serving)" in r.err
    assert len(r.out.splitlines()) == 1

    # A build's check log is still 'logs SHA CHECK'.
    assert "OK" in p.ok("logs", good[:7], "unit").out
    for args, expected in [
        (("nope",), "'nope' is not an environment (known: stage, dev, prod)"),
        (("stage", "--commit", "zz"), "--commit must be 4 to 40 hex digits"),
        (("stage", "--commit", "abcdef0"), "no instance log of abcdef0 on stage"),
        (("prod",), "prod has no instance log yet"),
    ]:
        r = p.run("logs", *args)
        assert r.code == 1 and "Traceback" not in r.text, r.text
        assert expected in r.err.strip().splitlines()[-1], r.err


def test_logs_follow_prints_new_lines_and_ctrl_c_exits_0(project: Project) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from conftest import SHIPYARD

    p = project
    p.ok("sync")
    # As a terminal starts it: Ctrl-C's default action, even when this run was started in
    # the background (a shell starts background jobs with SIGINT ignored, and an ignored
    # signal stays ignored across exec).
    as_in_a_terminal = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", as_in_a_terminal, SHIPYARD, "logs", "stage", "-f", "-n", "1"],
        cwd=p.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # faulthandler: SIGABRT prints every thread's stack, should Ctrl-C not end it
        env={**os.environ, "SHIPYARD_USER": "ana@example.com", "PYTHONFAULTHANDLER": "1"},
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # the tail's one line
        with urllib.request.urlopen(f"http://127.0.0.1:{p.ports['stage']}/__version__?follow-me"):
            pass
        deadline = time.monotonic() + 30
        seen = ""
        while "follow-me" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        assert "follow-me" in seen
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            _, stacks = proc.communicate(timeout=30)
            raise AssertionError(f"logs -f still ran 60s after Ctrl-C:\n{stacks[-4000:]}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()  # a failure here leaves no open pipe behind for a later test
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "error" not in err
