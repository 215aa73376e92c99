"""Every configured secret, planted with a distinctive value, is searched for in everything
Shipyard shows or keeps: check output and the environment checks get, API answers,
pages, notifications, the server's log and the audit log. None may appear."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from adapters.fake_http import LoopbackServer
from conftest import SHIPYARD, Project, make_project, running_server, stop_all
from shipyard.core.sealing import generate_key_line

BO = ("Bo Dev", "bo@example.com")
NOTIFY = """
[[notify]]
type = "webhook"
url = { env = "HOOK_URL" }

[[notify]]
type = "log"
"""


def _secrets(pg_url: str, hook: LoopbackServer) -> tuple[dict[str, str], dict[str, str]]:
    """The planted secrets (name -> value) and the environment that carries them."""
    token = uuid.uuid4().hex
    planted = {
        "github secret": f"gh-{uuid.uuid4().hex}",
        "build token": f"bt-{uuid.uuid4().hex}",
        "database password": f"pw{uuid.uuid4().hex}",
        "webhook url": f"{hook.url}/hooks/{token}",
    }
    db = pg_url.replace("://postgres@", f"://postgres:{planted['database password']}@", 1)
    env = {
        "SHIPYARD_GITHUB_SECRET": planted["github secret"],
        "SHIPYARD_BUILD_TOKEN": planted["build token"],
        "SHIPYARD_DATABASE_URL": db,
        "HOOK_URL": planted["webhook url"],
    }
    planted["webhook url token"] = token
    return planted, env


def _with_leaky_check(p: Project, planted: dict[str, str], dump: Path) -> None:
    """A check that saves its environment for the test and prints every secret it knows."""
    printed = " ".join(repr(v) for k, v in planted.items() if k != "webhook url token")
    command = f"env > {dump} && env && echo leaked: {printed}"
    toml = (p.path / "shipyard.toml").read_text()
    toml = toml.replace("[checks]\n", f"[checks]\nleak = {json.dumps(command)}\n", 1)
    p.repo.commit("Add a check that prints its environment", {"shipyard.toml": toml}, author=BO)
    # A commit message that names a secret: builds, notes and pages show the message.
    p.repo.squash_pr(
        3, f"Rotate the hook secret {planted['github secret']}", p.features("x"), author=BO
    )


def _plant_config(p: Project, planted: dict[str, str], env: dict[str, str]) -> str:
    """A secret variable in every environment, approved where a second person must; an
    admin's token (the users exist, so the server creates none)."""
    users = (("ana@example.com", "engineer"), ("bob@example.com", "releaser"), ("root", "admin"))
    for user, role in users:
        p.ok("user", "add", user, "--role", role, env=env)
    for name in ("stage", "dev", "prod"):
        planted[f"{name} config secret"] = value = f"cfg-{name}-{uuid.uuid4().hex}"
        done = subprocess.run(
            [SHIPYARD, "config", "set", name, "APP_SECRET", "--secret"],
            cwd=p.path,
            input=value,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env, "SHIPYARD_USER": "ana@example.com"},
            check=False,
        )
        assert done.returncode == 0, done.stderr
    p.ok("config", "approve", "prod", "1", user="bob@example.com", env=env)
    token = re.search(r"(shp_\S+)", p.ok("token", "create", "--user", "root", env=env).out)
    assert token
    return token.group(1)


def _login(c: httpx.Client, token: str) -> None:
    form = c.get("/login", params={"next": "/apps/monitor"}).text
    csrf = re.search(r'name="csrf" value="([^"]*)"', form)
    assert csrf
    r = c.post("/login", data={"token": token, "csrf": csrf.group(1), "next": "/apps/monitor"})
    assert r.status_code == 303, r.text


def _drive_server(url: str, token: str, planted: dict[str, str], sha: str) -> dict[str, str]:
    """Everything the server answers, by where it came from."""
    seen: dict[str, str] = {}
    h = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=h, timeout=120) as api:
        # A user whose name happens to hold a secret: the audit log and the notifications
        # name them, scrubbed.
        name = f"x{planted['build token']}"
        r = api.post("/api/v1/users", json={"name": name, "role": "releaser"})
        assert r.status_code == 201, r.text
        seen["API user answer"] = r.text
        r = api.post("/api/v1/tokens", json={"name": "t", "user": name})
        assert r.status_code == 201, r.text
        r = api.post(
            "/api/v1/apps/monitor/deployments",
            json={
                "environment": "dev",
                "ref": sha[:7],
                "reason": f"because {planted['github secret']}",
            },
            headers={"authorization": f"Bearer {r.json()['token']}"},
        )
        assert r.status_code == 201, r.text
        seen["API deploy answer"] = r.text
        r = api.get(f"/api/v1/apps/monitor/environments/{planted['build token']}/deployments")
        assert r.status_code == 404
        seen["API error answer"] = r.text
        for path in (
            "/api/v1/apps",
            "/api/v1/apps/monitor/environments",
            "/api/v1/apps/monitor/environments/dev/deployments",
            "/api/v1/apps/monitor/builds",
            "/api/v1/apps/monitor/releases",
            "/api/v1/apps/monitor/tickets",
            "/api/v1/apps/monitor/notes?range=HEAD",
            "/api/v1/audit/verify",
            "/api/v1/apps/monitor/environments/prod/config",
            "/api/v1/apps/monitor/environments/prod/config/versions/1",
            "/api/v1/apps/monitor/grants",
            "/metrics",
            "/openapi.json",
        ):
            r = api.get(path)
            assert r.status_code == 200, (path, r.text)
            seen[f"API {path}"] = r.text
        r = httpx.get(f"{url}/no/such/{planted['database password']}", timeout=30)
        seen["404 page"] = r.text
    with httpx.Client(base_url=url, timeout=120) as pages:
        _login(pages, token)
        for path in (
            "/apps/monitor",
            "/apps/monitor/builds",
            f"/apps/monitor/builds/{sha[:7]}/checks/leak",
            "/apps/monitor/promote?environment=prod",
            "/apps/monitor/releases",
            "/history",
            "/users",
            "/apps/monitor/environments/prod/config",
            "/apps/monitor/environments/stage/config",
        ):
            r = pages.get(path)
            assert r.status_code == 200, (path, r.text[:300])
            seen[f"page {path}"] = r.text
    return seen


def test_no_secret_reaches_checks_logs_api_pages_notifications_or_audit(
    tmp_path: Path, pg_url: str
) -> None:
    with LoopbackServer() as hook:
        planted, env = _secrets(pg_url, hook)
        key = tmp_path / "secrets.key"
        key.write_text(generate_key_line() + "\n")
        p = make_project(
            tmp_path / "monitor", NOTIFY + f'\n[secrets]\nkey = {{ file = "{key}" }}\n'
        )
        dump = tmp_path / "check-env.txt"
        _with_leaky_check(p, planted, dump)
        try:
            token = _plant_config(p, planted, env)
            p.ok("sync", env=env)
            seen = {
                "config listings": "".join(
                    p.ok("config", name, env=env).out for name in ("stage", "dev", "prod")
                )
            }
            sha = p.head()
            with running_server(p.path, env=env, first_start=False) as srv:
                seen |= _drive_server(srv.url, token, planted, sha)
            seen |= _kept(p, env["SHIPYARD_DATABASE_URL"])
            seen["server log"] = srv.log.read_text()
            seen["notifications received"] = "\n".join(r.body.decode() for r in hook.received)
        finally:
            p.run("down", env=env)
            stop_all(p)
    check_env = dump.read_text()
    assert "SHIPYARD_" not in check_env.replace("SHIPYARD_COMMIT", "").replace(
        "SHIPYARD_CHECK", ""
    ), check_env
    seen["the environment a check got"] = check_env
    leaks = {
        (where, name)
        for where, body in seen.items()
        for name, value in planted.items()
        if value in body
    }
    assert not leaks, sorted(leaks)
    # What was planted got there, scrubbed: the search looked in the right places.
    for where in ("check log (database)", "audit log (database)", "server log"):
        assert "[secret]" in seen[where], where
    assert "because [secret]" in seen["API deploy answer"]
    assert "[secret]" in seen["notifications received"] and hook.received
    assert "[secret]" in seen["page /apps/monitor/builds/" + sha[:7] + "/checks/leak"]
    size = sum(len(body) for body in seen.values())
    print(
        f"searched {len(seen)} sources ({size} characters) for {len(planted)} planted secrets",
        file=sys.stderr,
    )


def _kept(p: Project, database_url: str) -> dict[str, str]:
    """What the database and the state directory keep."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = {
                "check log (database)": "SELECT name, log FROM checks",
                "audit log (database)": "SELECT actor, action, subject, data FROM audit_events",
                # A reason is kept as its author typed it; it is scrubbed wherever it is shown.
                "deployment errors (database)": "SELECT error, ref FROM deployments",
                "config entries (database)": "SELECT name, value FROM config_entries",
            }
            out = {
                where: "\n".join(" ".join(str(v) for v in row) for row in conn.execute(text(q)))
                for where, q in tables.items()
            }
    finally:
        engine.dispose()
    out["notifications.log"] = (p.path / ".shipyard" / "notifications.log").read_text()
    return out
