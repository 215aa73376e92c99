"""Set-up, the demo, up/down, notifications, and two deploys at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.fake_http import FakeSlack, LoopbackServer
from conftest import SHIPYARD, Project, make_project, stop_all
from shipyard.demo.repo import DemoRepo

BO = ("Bo Dev", "bo@example.com")


def _cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SHIPYARD, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
        env={**os.environ, "SHIPYARD_USER": "ana@example.com", **(env or {})},
    )


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    repo = DemoRepo.create(tmp_path / "My App")
    repo.commit("Initial commit", {"app.py": "print()\n"}, author=BO)
    r = _cli(repo.path, "init", "--prefix", "MNTOR")
    assert r.returncode == 0, r.stderr
    text = (repo.path / "shipyard.toml").read_text()
    assert 'name = "my-app"' in text and '"MNTOR"' in text
    assert ".shipyard/" in (repo.path / ".git" / "info" / "exclude").read_text()
    r = _cli(repo.path, "init")
    assert r.returncode == 1 and "exists already" in r.stderr
    r = _cli(repo.path, "status")
    assert r.returncode == 0, r.stderr
    assert "stage" in r.stdout and "stopped" in r.stdout


@pytest.mark.usefixtures("demo_ports")
def test_demo_runs_the_train_and_stops(tmp_path: Path) -> None:
    env = {"SHIPYARD_DEMO_MARKER": str(tmp_path / "marker.json")}
    r = _cli(tmp_path, "demo", "--where", str(tmp_path / "demo"), env=env)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        out = r.stdout
        assert "refused" in out and "MNTOR-103" in out
        assert "prod runs 20" in out
        urls = [w for w in out.split() if w.startswith("http://127.0.0.1:")]
        assert len(urls) == 3  # stage, prod, and the dashboard
        import re
        import urllib.request

        for url in urls[:2]:
            with urllib.request.urlopen(url + "__version__", timeout=5) as resp:
                assert resp.status == 200
        token = re.search(r"admin token \(shown once\):\s+(shp_\S+)", out)
        assert token, out
        req = urllib.request.Request(
            urls[2] + "api/v1/apps/monitor/environments",
            headers={"Authorization": f"Bearer {token.group(1)}"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            envs = {e["name"]: e for e in json.loads(resp.read())}
        assert envs["prod"]["deployment"]["tag"].startswith("prod-")
    finally:
        stop = _cli(tmp_path, "demo", "--stop", env=env)
    assert stop.returncode == 0, stop.stderr
    assert not (tmp_path / "demo" / "monitor").exists()
    import urllib.error
    import urllib.request

    for url in urls:
        try:
            urllib.request.urlopen(url + "healthz", timeout=2).close()
            raise AssertionError(f"{url} still answers after --stop")
        except urllib.error.URLError:
            pass


def test_down_then_up_brings_back_the_recorded_versions(project: Project) -> None:
    p = project
    p.ok("sync")
    head = p.head()
    p.ok("down")
    assert p.served("stage") is None
    assert "stopped" in p.ok("status").out
    r = p.ok("up")
    assert f"stage: {head[:7]}" in r.out
    assert p.served("stage") == head
    assert "nothing deployed yet" in r.out  # prod and dev


def test_events_reach_webhook_and_slack_and_a_failing_sink_blocks_nothing(tmp_path: Path) -> None:
    with LoopbackServer() as hook, FakeSlack() as slack, LoopbackServer() as broken:
        broken.fail(1000, 500, b"down")
        extra = (
            f'[[notify]]\ntype = "webhook"\nurl = "{hook.url}"\n'
            f'[[notify]]\ntype = "slack"\nurl = {{ env = "TEST_SLACK_URL" }}\n'
            f'[[notify]]\ntype = "webhook"\nurl = "{broken.url}"\n'
        )
        p = make_project(tmp_path / "monitor", extra=extra)
        try:
            env = {"TEST_SLACK_URL": slack.url}
            p.ok("sync", env=env)
            p.repo.squash_pr(5, "Add alerts MNTOR-5", p.features("alerts"), author=BO)
            p.ok("sync", env=env)
            p.ok("prerelease", "--date", "2024-09-01", env=env)
            r = p.run("deploy", "prod", "2024.09.01", "--yes", env=env)
            assert r.code == 3
            p.ok("qa", "verify", "MNTOR-5", env=env)
            p.ok("deploy", "prod", "2024.09.01", "--yes", env=env)
            deadline = time.monotonic() + 20
            while (
                time.monotonic() < deadline
                and len([b for b in hook.bodies() if b["environment"] == "prod"]) < 3
            ):
                time.sleep(0.1)
            kinds = [(b["kind"], b.get("environment")) for b in hook.bodies()]
            assert ("prerelease.cut", None) in kinds
            assert ("deployment.refused", "prod") in kinds
            assert ("deployment.started", "prod") in kinds and (
                "deployment.succeeded",
                "prod",
            ) in kinds
            done = next(
                b
                for b in hook.bodies()
                if b["kind"] == "deployment.succeeded" and b["environment"] == "prod"
            )
            assert done["tag"] == "prod-2024.09.01" and done["actor"] == "ana@example.com"
            assert "MNTOR-5" in done["notes_markdown"]
            texts = [json_text(r.json()) for r in slack.received]
            assert any("prod-2024.09.01" in t and "ana@example.com" in t for t in texts)
            assert len(broken.received) >= 3  # retried, and never failed a command
            assert p.served("prod") == p.head()
        finally:
            stop_all(p)


def json_text(payload: object) -> str:
    import json

    return json.dumps(payload)


def test_two_deploys_at_once_run_one_after_the_other(project: Project) -> None:
    p = project
    p.ok("sync")
    first = p.head()
    p.repo.squash_pr(2, "Add alerts MNTOR-2", p.features("alerts"), author=BO)
    p.ok("sync")
    second = p.head()
    # first is not on stage any more but it succeeded there before: both may go to dev.
    # Whichever runs second may be going back, so the older one says why.
    env = {**os.environ, "SHIPYARD_USER": "ana@example.com"}
    a = subprocess.Popen(
        [SHIPYARD, "deploy", "dev", first[:7], "--yes", "--reason", "checking the older build"],
        cwd=p.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    b = subprocess.Popen(
        [SHIPYARD, "deploy", "dev", second[:7], "--yes"],
        cwd=p.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    _, err_a = a.communicate(timeout=120)
    _, err_b = b.communicate(timeout=120)
    assert a.returncode == 0, err_a
    assert b.returncode == 0, err_b
    import sqlite3

    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    rows = db.execute(
        "SELECT d.id, d.created_at, d.finished_at, a.at FROM deployments d "
        "JOIN environments e ON e.id = d.environment_id "
        "JOIN audit_events a ON a.subject = 'dev#' || d.id AND a.action = 'deployment.waiting_artifact' "
        "WHERE e.name = 'dev' ORDER BY d.id"
    ).fetchall()
    db.close()
    (_, _, done1, _), (_, queued2, _, active2) = rows
    assert active2 >= done1  # the second held dev only after the first had finished
    if queued2 < done1:  # it asked while the first ran: it waited in line and said so
        assert "dev is busy" in err_a + err_b
    hist = p.ok("history", "dev").out
    assert hist.count("succeeded") == 2
    assert p.served("dev") in (first, second)
    assert p.ok("audit", "verify").code == 0


def test_cli_reference_is_up_to_date() -> None:
    root = Path(__file__).parents[2]
    sys.path.insert(0, str(root / "scripts"))
    try:
        from gen_cli_docs import render
    finally:
        sys.path.pop(0)
    assert (root / "docs" / "cli.md").read_text() == render(), "run 'make docs'"
