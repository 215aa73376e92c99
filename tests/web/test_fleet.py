"""One server, several apps: ``[server] apps``, the per-app API, the remote CLI, the schedules."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import SHIPYARD, Project, make_named_project, running_server, stop_all
from shipyard.config import load
from shipyard.errors import ConfigError
from shipyard.services.fleet import load_fleet
from shipyard.services.users import bootstrap_admin
from shipyard.store.db import open_store
from shipyard.web.app import create_app


@pytest.fixture
def fleet(tmp_path: Path) -> list[Project]:
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    apps = [
        make_named_project(
            tmp_path / "monitor", "monitor", db, ["../billing/shipyard.toml", "../more/*/*.toml"]
        ),
        make_named_project(tmp_path / "billing", "billing", db),
        make_named_project(tmp_path / "more" / "relay", "relay", db),
    ]
    yield apps
    for p in apps:
        stop_all(p)


def test_server_apps_are_found_in_order_and_bad_sets_refused(
    fleet: list[Project], tmp_path: Path
) -> None:
    main = load(fleet[0].path / "shipyard.toml")
    assert [s.app.name for s in load_fleet(main)] == ["monitor", "billing", "relay"]

    def refused(server_apps: list[str], edit: tuple[Path, str, str] | None = None) -> str:
        cfg = fleet[0].path / "shipyard.toml"
        before = cfg.read_text()
        cfg.write_text(
            before.replace(
                '"../billing/shipyard.toml", "../more/*/*.toml"',
                ", ".join(json.dumps(a) for a in server_apps),
            )
        )
        old = None
        if edit is not None:
            old = edit[0].read_text()
            edit[0].write_text(old.replace(edit[1], edit[2], 1))
        try:
            with pytest.raises(ConfigError) as exc:
                load_fleet(load(cfg))
            return exc.value.message
        finally:
            cfg.write_text(before)
            if edit is not None and old is not None:
                edit[0].write_text(old)

    billing = fleet[1].path / "shipyard.toml"
    assert "'../nowhere/*.toml' matches no file" in refused(["../nowhere/*.toml"])
    assert "is also the app of" in refused(
        ["../billing/shipyard.toml"], (billing, 'name = "billing"', 'name = "monitor"')
    )
    assert "apps served together share one database" in refused(
        ["../billing/shipyard.toml"], (billing, "shared.db", "other.db")
    )
    stage_port = str(fleet[0].ports["stage"])
    msg = refused(
        ["../billing/shipyard.toml"],
        (billing, f"port = {fleet[1].ports['stage']}", f"port = {stage_port}"),
    )
    assert f"billing/stage uses port {stage_port}, as monitor/stage does" in msg


def test_each_app_has_its_own_api_and_an_unknown_app_is_a_404(fleet: list[Project]) -> None:
    settings = load(fleet[0].path / "shipyard.toml")
    store = open_store(settings.database_url)
    admin = bootstrap_admin(store)
    assert admin is not None
    app = create_app(settings, store=store)
    h = {"authorization": f"Bearer {admin.token}"}

    async def main() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=120
        ) as c:
            apps = (await c.get("/api/v1/apps", headers=h)).json()
            assert [a["name"] for a in apps] == ["monitor", "billing", "relay"]
            assert apps[1]["environments"] == ["stage", "dev", "prod"]
            r = await c.post("/api/v1/apps/billing/sync", headers=h)
            assert r.status_code == 200, r.text
            assert r.json()["deployed"], r.text
            billing = (await c.get("/api/v1/apps/billing/builds", headers=h)).json()
            monitor = (await c.get("/api/v1/apps/monitor/builds", headers=h)).json()
            assert len(billing) == 1 and billing[0]["commit"] == fleet[1].head()
            assert monitor == []
            envs = (await c.get("/api/v1/apps/billing/environments", headers=h)).json()
            stage = next(e for e in envs if e["name"] == "stage")
            assert stage["deployment"]["commit"] == fleet[1].head()
            envs = (await c.get("/api/v1/apps/monitor/environments", headers=h)).json()
            assert all(e["deployment"] is None for e in envs)
            r = await c.get("/api/v1/apps/nope/environments", headers=h)
            assert r.status_code == 404
            assert r.json()["error"]["message"] == "this server does not serve an app named 'nope'"
            r = await c.get("/api/v1/apps/nope/environments")
            assert r.status_code == 401  # credentials first: nothing about apps leaks

    try:
        asyncio.run(main())
    finally:
        store.close()
    assert fleet[1].served("stage") == fleet[1].head()
    assert fleet[0].served("stage") is None


def test_the_remote_cli_picks_its_app(fleet: list[Project], tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def cli(
        *args: str, env: dict[str, str], cwd: Path = elsewhere
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SHIPYARD, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "COLUMNS": "200", **env},
            stdin=subprocess.DEVNULL,
            check=False,
        )

    with running_server(fleet[0].path) as srv:
        assert srv.token
        remote = {"SHIPYARD_URL": srv.url, "SHIPYARD_TOKEN": srv.token}
        r = cli("builds", env=remote)
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert "serves 3 apps (monitor, billing, relay): set SHIPYARD_APP" in r.stdout + r.stderr
        r = cli("sync", env={**remote, "SHIPYARD_APP": "relay"})
        assert r.returncode == 0, r.stdout + r.stderr
        r = cli("builds", env={**remote, "SHIPYARD_APP": "relay"})
        assert r.returncode == 0 and fleet[2].head()[:7] in r.stdout, r.stdout
        # inside an app's checkout the CLI acts on that app
        r = cli("builds", env=remote, cwd=fleet[1].path)
        assert r.returncode == 0 and fleet[2].head()[:7] not in r.stdout, r.stdout
        r = cli("status", env={**remote, "SHIPYARD_APP": "nope"})
        assert r.returncode != 0 and "does not serve an app named 'nope'" in r.stdout + r.stderr


def test_one_scheduler_polls_every_app(fleet: list[Project]) -> None:
    from sqlalchemy import select

    from shipyard.store.models import App, Build
    from shipyard.web.background import start_scheduler

    for p in fleet:
        cfg = p.path / "shipyard.toml"
        cfg.write_text(cfg.read_text() + '\n[schedule]\nprerelease = ""\npoll_interval = 0.5\n')
    apps = load_fleet(load(fleet[0].path / "shipyard.toml"))
    store = open_store(apps[0].database_url)
    stop = start_scheduler(apps, store)
    try:
        deadline = time.monotonic() + 120
        while True:
            with store.read() as s:
                built = set(
                    s.execute(select(App.name).join(Build, Build.app_id == App.id)).scalars()
                )
            if built == {"monitor", "billing", "relay"}:
                break
            assert time.monotonic() < deadline, f"only {built} were polled"
            time.sleep(0.2)
    finally:
        stopped = threading.Thread(target=stop)
        stopped.start()
        stopped.join(120)
        store.close()
    assert not stopped.is_alive()


def test_each_app_has_its_own_permissions(fleet: list[Project]) -> None:
    """[permissions] in billing's shipyard.toml lets engineers deploy billing, not monitor."""
    from shipyard.services.users import add_user, create_token

    cfg = fleet[1].path / "shipyard.toml"
    cfg.write_text(cfg.read_text() + '\n[permissions]\ndeploy = ["engineer", "releaser"]\n')
    settings = load(fleet[0].path / "shipyard.toml")
    store = open_store(settings.database_url)
    bootstrap_admin(store)
    add_user(store, "eve", "engineer", actor="admin")
    eve = {"authorization": f"Bearer {create_token(store, 'eve', 't', actor='admin').token}"}
    app = create_app(settings, store=store)
    body = {"environment": "prod", "ref": "not-a-release"}

    async def main() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=60
        ) as c:
            r = await c.post("/api/v1/apps/monitor/deployments", json=body, headers=eve)
            assert r.status_code == 403, r.text
            assert r.json()["error"]["message"] == (
                "role 'engineer' may not deploy: it needs admin or releaser"
            )
            # allowed on billing: the deploy gets as far as checking the ref
            r = await c.post("/api/v1/apps/billing/deployments", json=body, headers=eve)
            assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_ref", r.text

    try:
        asyncio.run(main())
    finally:
        store.close()
