"""Environments' variables through a real ``shipyard serve``: the REST API, the CLI driving
it (SHIPYARD_URL), and the dashboard's config page. Secrets stay masked everywhere but
the one grant-guarded read, and the server scrubs a secret approved while it runs."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import RELEASER, SHIPYARD, Project, Result, make_project, running_server, stop_all
from shipyard.core.sealing import generate_key_line

ANA, BOB = "ana@example.com", "bob@example.com"
FIRST, SECOND = "first-web-s3cret-Hk41", "second-web-s3cret-Jq93"
API = "/api/v1/apps/monitor/environments/stage"


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[Project]:
    key = tmp_path / "secrets.key"
    key.write_text(generate_key_line() + "\n")
    p = make_project(tmp_path / "monitor", f'\n[secrets]\nkey = {{ file = "{key}" }}\n')
    toml = p.path / "shipyard.toml"
    staged = toml.read_text().replace("auto = true\n", "auto = true\nconfig_approvals = 1\n", 1)
    p.repo.commit("Stage config needs a second person", {"shipyard.toml": staged}, author=RELEASER)
    for name, role in ((ANA, "engineer"), (BOB, "releaser")):
        p.ok("user", "add", name, "--role", role)
    try:
        yield p
    finally:
        stop_all(p)


def _token(p: Project, user: str) -> str:
    found = re.search(r"(shp_\S+)", p.ok("token", "create", "--user", user).out)
    assert found
    return found.group(1)


def remote(p: Project, url: str, token: str, *args: str, stdin: str = "") -> Result:
    proc = subprocess.run(
        [SHIPYARD, *args],
        cwd=p.path,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SHIPYARD_URL": url, "SHIPYARD_TOKEN": token, "COLUMNS": "200"},
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def test_the_api_and_the_cli_through_it(keyed: Project) -> None:
    p = keyed
    ana, bob = _token(p, ANA), _token(p, BOB)
    with running_server(p.path, first_start=False) as srv:
        # A change request through the CLI driving the server: the value on stdin.
        r = remote(p, srv.url, ana, "config", "set", "stage", "API_KEY", "--secret", stdin=FIRST)
        assert r.code == 0 and "change request v1 waits" in r.out, r.text
        r = remote(p, srv.url, ana, "config", "approve", "stage", "1")
        assert r.code == 1 and "may not config_approve" in r.err, r.text
        r = remote(p, srv.url, bob, "config", "diff", "stage", "1")
        assert "+ API_KEY  ********  (added)" in r.out and FIRST not in r.text, r.text
        assert remote(p, srv.url, bob, "config", "approve", "stage", "1").code == 0
        listed = remote(p, srv.url, ana, "config", "stage").out
        assert "config version 1" in listed and "********" in listed and FIRST not in listed

        ha = {"authorization": f"Bearer {ana}"}
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            shown = c.get(f"{API}/config", headers=ha)
            assert shown.status_code == 200 and shown.json()["version"] == 1
            assert shown.json()["entries"][0]["value"] == "********" and FIRST not in shown.text
            # Reading needs a grant: refused (state unchanged), then granted and audited.
            refused = c.get(f"{API}/config/values/API_KEY", headers=ha)
            assert refused.status_code == 409 and "needs an approved grant" in refused.text
            bad = c.post(f"{API}/grants", headers=ha, json={"duration": "1d", "reason": "x"})
            assert bad.status_code == 400 and bad.json()["error"]["message"].startswith("--for")
            stale = c.post(
                f"{API}/config",
                headers=ha,
                json={"changes": [{"name": "MODE", "kind": "plain", "value": "x"}], "cas": 0},
            )
            assert stale.status_code == 409 and "check-and-set failed" in stale.text
            viewerless = c.post(f"{API}/config/versions/1/approve", headers=ha)
            assert viewerless.status_code == 403
        r = remote(
            p, srv.url, ana, "grant", "request", "stage", "--for", "5m", "--reason", "rotate"
        )
        assert r.code == 0 and "grant #1 on stage waits" in r.out, r.text
        assert remote(p, srv.url, bob, "grant", "approve", "1").code == 0
        assert "active" in remote(p, srv.url, ana, "grant", "list", "stage").out
        got = remote(p, srv.url, ana, "config", "get", "stage", "API_KEY")
        assert got.code == 0 and got.out == FIRST + "\n", got.text
        r = remote(p, srv.url, bob, "config", "get", "stage", "API_KEY")
        assert r.code == 3 and "needs an approved grant" in r.err  # admins and partners too

        # A change through the API, rejected through the CLI: audited, never active.
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            made = c.post(
                f"{API}/config",
                headers=ha,
                json={"changes": [{"name": "API_KEY", "kind": "secret", "value": SECOND}]},
            )
            assert made.status_code == 201 and made.json() == {
                "environment": "stage",
                "version": 2,
                "active": False,
            }
            assert SECOND not in made.text
        r = remote(p, srv.url, bob, "config", "reject", "stage", "2", "--reason", "not yet")
        assert r.code == 0 and "rejected" in r.out
        assert remote(p, srv.url, ana, "config", "get", "stage", "API_KEY").out == FIRST + "\n"
        log = srv.log.read_text()
    assert FIRST not in log and SECOND not in log
    audit = p.ok("audit", "log", "--limit", "100").out
    for action in ("config.requested", "config.approved", "config.rejected", "config.read"):
        assert action in audit
    assert FIRST not in audit and SECOND not in audit


def test_a_secret_approved_while_the_server_runs_is_scrubbed_from_then_on(
    keyed: Project,
) -> None:
    p = keyed
    bob = _token(p, BOB)
    with running_server(p.path, first_start=False) as srv:
        # Proposed by a local command, which the server knows nothing of ...
        done = subprocess.run(
            [SHIPYARD, "config", "set", "stage", "API_KEY", "--secret"],
            cwd=p.path,
            input=FIRST,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "SHIPYARD_USER": ANA},
            check=False,
        )
        assert done.returncode == 0, done.stderr
        h = {"authorization": f"Bearer {bob}"}
        with httpx.Client(base_url=srv.url, headers=h, timeout=60) as c:
            # ... and approved through the server: from now on it scrubs the value,
            # even where someone copies it into a plain variable.
            assert c.post(f"{API}/config/versions/1/approve").status_code == 200
            mirror = {"changes": [{"name": "MIRROR", "kind": "plain", "value": FIRST}]}
            assert c.post(f"{API}/config", json=mirror).status_code == 201
            diff = c.get(f"{API}/config/versions/2")
            assert diff.status_code == 200 and FIRST not in diff.text and "[secret]" in diff.text


def _login(c: httpx.Client, token: str) -> str:
    form = c.get("/login", params={"next": "/apps/monitor"}).text
    csrf = re.search(r'name="csrf" value="([^"]*)"', form)
    assert csrf
    r = c.post("/login", data={"token": token, "csrf": csrf.group(1), "next": "/apps/monitor"})
    assert r.status_code == 303, r.text
    page = c.get("/apps/monitor").text
    found = re.search(r'name="csrf" value="([^"]*)"', page)
    assert found
    return found.group(1)


def test_the_config_page(keyed: Project) -> None:
    p = keyed
    ana, bob = _token(p, ANA), _token(p, BOB)
    page = "/apps/monitor/environments/stage/config"
    with (
        running_server(p.path, first_start=False) as srv,
        httpx.Client(base_url=srv.url, timeout=60) as a,
        httpx.Client(base_url=srv.url, timeout=60) as b,
    ):
        ca, cb = _login(a, ana), _login(b, bob)
        assert f'href="{page}"' in a.get("/apps/monitor").text
        form = {"csrf": ca, "name": "API_KEY", "kind": "secret", "value": FIRST, "cas": "0"}
        forged = a.post(page, data={**form, "csrf": "forged"})
        assert forged.status_code == 403 and "Form expired" in forged.text
        r = a.post(page, data=form)
        assert r.status_code == 303 and "v1+waits" in r.headers["location"]
        mine = a.get(page).text
        assert 'type="password"' in mine and FIRST not in mine
        assert "Another person must approve your change" in mine
        assert "/config/1/approve" not in mine  # no button to approve one's own change
        again = a.post(page, data={**form, "cas": "5"})
        assert again.status_code == 409 and "check-and-set failed" in again.text

        theirs = b.get(page).text
        assert "Change request v1" in theirs and "/config/1/approve" in theirs
        assert "added" in theirs and "********" in theirs and FIRST not in theirs
        r = b.post(f"{page}/1/approve", data={"csrf": cb})
        assert r.status_code == 303
        shown = a.get(page).text
        assert "Config version <strong>1</strong>" in shown and FIRST not in shown

        r = a.post(
            "/apps/monitor/environments/stage/grants",
            data={"csrf": ca, "duration": "10m", "reason": "look"},
        )
        assert r.status_code == 303 and "grant+%231" in r.headers["location"]
        assert "/grants/1/approve" not in a.get(page).text
        own = a.post("/apps/monitor/environments/stage/grants/1/approve", data={"csrf": ca})
        assert own.status_code == 403  # an engineer may not approve
        r = b.post("/apps/monitor/environments/stage/grants/1/approve", data={"csrf": cb})
        assert r.status_code == 303 and "active" in r.headers["location"]
        assert FIRST not in b.get(page).text
