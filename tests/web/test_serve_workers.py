"""``shipyard serve --workers N``: real worker processes on one address, one scheduler,
connections spread over the workers, access ended at once on every worker, a clean stop."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from conftest import Project, Server, make_named_project, running_server, stop_all

WORKERS = {"SHIPYARD_WORKERS": "3"}


def _answered_by(log: Path, path: str) -> list[tuple[int, int]]:
    """(pid, status) of each logged request for ``path``, oldest first."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("logger") == "shipyard.http" and rec.get("path") == path:
            out.append((int(rec["pid"]), int(rec["status"])))
    return out


def _workers(log: Path) -> set[int]:
    return {pid for pid, _ in _answered_by(log, "/healthz")} | {
        pid for pid, _ in _answered_by(log, "/api/v1/me")
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _ask_every_worker(srv: Server, token: str, want: int, count: int = 3) -> set[int]:
    """GET /api/v1/me on new connections until ``count`` workers answered ``want``
    (bounded: 400 requests, 60 s); the pids that did."""
    seen: set[int] = set()
    before = len(_answered_by(srv.log, "/api/v1/me"))
    deadline = time.monotonic() + 60
    for _ in range(400):
        r = httpx.get(f"{srv.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == want, f"{r.status_code}: {r.text}"
        if time.monotonic() > deadline:
            break
        seen = {pid for pid, _ in _answered_by(srv.log, "/api/v1/me")[before:]}
        if len(seen) >= count:
            break
    assert len(seen) >= count, f"only workers {seen} answered"
    return seen


def test_revoking_or_disabling_ends_access_at_once_on_every_worker(project: Project) -> None:
    with running_server(project.path, env=WORKERS) as srv:
        assert srv.token is not None
        admin = {"Authorization": f"Bearer {srv.token}"}
        project.ok("user", "add", "bo", "--role", "engineer")
        project.ok("user", "add", "cy", "--role", "engineer")
        project.ok("user", "add", "di", "--role", "viewer")
        bo, cy, di = (
            project.ok("token", "create", "--user", u).out.strip().splitlines()[-1]
            for u in ("bo", "cy", "di")
        )
        for token in (bo, cy, di):  # each worker remembers each principal now
            _ask_every_worker(srv, token, 200)
        r = httpx.delete(f"{srv.url}/api/v1/users/bo/tokens", headers=admin)
        assert r.json() == {"user": "bo", "revoked": 1}
        assert len(_ask_every_worker(srv, bo, 401)) == 3
        r = httpx.post(f"{srv.url}/api/v1/users/cy/disable", headers=admin)
        assert r.json()["changed"] is True
        _ask_every_worker(srv, cy, 401)
        # Revoked by the CLI on the database directly (no SHIPYARD_URL): at once too.
        _ask_every_worker(srv, di, 200)  # remembered just now, for 5 s
        assert "revoked 1" in project.ok("token", "revoke", "--user", "di", "--all").out
        _ask_every_worker(srv, di, 401)
        workers = _workers(srv.log)
        assert len(workers) == 3 and srv.proc.pid not in workers
    assert srv.proc.returncode == 0
    assert not any(_alive(pid) for pid in workers), "a worker outlived serve"


def test_a_dead_worker_is_replaced_and_sigterm_stops_them_all(project: Project) -> None:
    with running_server(project.path, env=WORKERS) as srv:
        assert srv.token is not None
        first = _ask_every_worker(srv, srv.token, 200)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while f"Child process [{victim}] died" not in srv.log.read_text():
            assert time.monotonic() < deadline, "the dead worker was not noticed"
            time.sleep(0.2)
        now = _ask_every_worker(srv, srv.token, 200)
        assert victim not in now and len(now) == 3
    assert srv.proc.returncode == 0
    assert not any(_alive(pid) for pid in first | now)


def test_workers_end_with_a_parent_killed_with_sigkill(project: Project) -> None:
    with running_server(project.path, env=WORKERS) as srv:
        assert srv.token is not None
        workers = _ask_every_worker(srv, srv.token, 200)
        srv.proc.kill()
        srv.proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in workers):
            assert time.monotonic() < deadline, "a worker outlived its killed parent"
            time.sleep(0.2)


def test_workers_out_of_range_are_refused_in_one_line(project: Project) -> None:
    for bad in ("0", "65"):
        r = project.run("serve", "--workers", bad, "--port", "1")
        assert r.code != 0 and "Traceback" not in r.text
        assert r.err.strip().splitlines() == [f"error: --workers must be 1 to 64, not {bad}"]
    toml = project.path / "shipyard.toml"
    toml.write_text(toml.read_text() + "\n[server]\nworkers = 100\n")
    r = project.run("serve", "--port", "1")
    assert r.code != 0 and "Traceback" not in r.text
    assert r.err.strip().splitlines() == [
        "error: shipyard.toml: server -> workers: must be at least 1 and at most 64"
    ]


def _runs(url: str) -> list[tuple[str, str, str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT job, slot, outcome, runner FROM scheduled_runs ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_two_servers_of_three_workers_run_each_slot_once_from_their_parents(
    tmp_path: Path, db_url: str
) -> None:
    p = make_named_project(tmp_path / "monitor", "monitor", db_url)
    toml = p.path / "shipyard.toml"
    toml.write_text(
        toml.read_text() + '\n[schedule]\nprerelease = "0 * * * *"\npoll_interval = 2\n'
    )
    try:
        with (
            running_server(p.path, schedule=True, env=WORKERS) as one,
            running_server(p.path, schedule=True, env=WORKERS, first_start=False) as two,
        ):
            parents = {one.proc.pid, two.proc.pid}
            deadline = time.monotonic() + 120
            while True:  # the hour's pre-release (catch-up) and a poll that built main
                runs = _runs(db_url)
                done = [r for r in runs if r[2] != "running"]
                if {r[0] for r in done} >= {"prerelease", "poll"}:
                    break
                assert time.monotonic() < deadline, f"runs so far: {runs}"
                time.sleep(0.5)
            time.sleep(5)  # more ticks of both schedulers: none may run the slot again
            runs = _runs(db_url)
            workers = _workers(one.log) | _workers(two.log)
    finally:
        stop_all(p)
    slots = [(job, slot) for job, slot, _, _ in runs]
    assert len(slots) == len(set(slots)), runs
    prereleases = [r for r in runs if r[0] == "prerelease"]
    assert 1 <= len(prereleases) <= 2, runs  # two only when the test spans an hour's turn
    runners = {int(r[3].split(":")[1]) for r in runs}
    assert runners <= parents and not runners & workers, (runs, parents, workers)


def test_a_secret_activated_through_one_worker_is_scrubbed_by_every_worker(
    tmp_path: Path,
) -> None:
    from conftest import make_project
    from shipyard.core.sealing import generate_key_line

    key = tmp_path / "keys" / "secrets.key"
    key.parent.mkdir()
    key.write_text(generate_key_line() + "\n")
    p = make_project(tmp_path / "monitor", f'\n[secrets]\nkey = {{ file = "{key}" }}\n')
    secret = "s3cr3t-" + os.urandom(12).hex()
    try:
        with running_server(p.path, env=WORKERS) as srv:
            admin = {"Authorization": f"Bearer {srv.token}"}
            _ask_every_worker(srv, str(srv.token), 200)  # every worker is up and scrubbing
            r = httpx.post(
                f"{srv.url}/api/v1/apps/monitor/environments/stage/config",
                json={"changes": [{"name": "API_KEY", "kind": "secret", "value": secret}]},
                headers=admin,
            )
            assert r.status_code == 201 and r.json()["active"] is True, r.text
            path = f"/probe/{secret}"  # logged by whichever worker answers: scrubbed or not
            seen: set[int] = set()
            for _ in range(400):
                assert httpx.get(srv.url + path).status_code == 404
                seen = {pid for pid, _ in _answered_by(srv.log, "/probe/[secret]")}
                if len(seen) >= 3:
                    break
            leaked = [x for x in srv.log.read_text().splitlines() if secret in x]
            assert not leaked, f"a worker logged the secret: {leaked[:3]}"
            assert len(seen) == 3, f"only workers {seen} answered"
    finally:
        stop_all(p)


def _get_on(conn: http.client.HTTPConnection, path: str) -> int:
    conn.request("GET", path)
    answer = conn.getresponse()
    answer.read()
    return answer.status


def _listening_on(port: int) -> int:
    """How many sockets listen on ``port`` on this host (Linux's /proc/net/tcp: state 0A)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for r in rows if r.split()[1].endswith(f":{port:04X}") and r.split()[3] == "0A")


def test_a_burst_of_connections_spreads_over_the_workers(project: Project) -> None:
    """Each worker listens on its own SO_REUSEPORT socket: twelve connections opened at
    once, before any request (as a load tool opens them), are not all accepted by the
    worker that woke first, and the parent, which holds the address without listening,
    takes none (a connection it held would never be answered)."""
    with running_server(project.path, env=WORKERS) as srv:
        port = int(srv.url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 60  # the first worker answers before the others listen
        while _listening_on(port) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _listening_on(port) == 3  # one socket per worker; the parent does not listen
        conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(12)]
        for conn in conns:
            conn.connect()
        try:
            for _ in range(3):  # keep-alive: each connection stays with its worker
                for conn in conns:
                    assert _get_on(conn, "/healthz") == 200
        finally:
            for conn in conns:
                conn.close()
        pids = {pid for pid, _ in _answered_by(srv.log, "/healthz")}
        assert srv.proc.pid not in pids
        assert len(pids) >= 2, f"one worker took every connection: {pids}"


def test_a_busy_address_is_one_line_with_several_workers(project: Project) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = project.run("serve", "--workers", "2", "--port", str(port), "--no-schedule")
    assert r.code == 1, r.text
    assert r.err.strip().splitlines()[-1].startswith(f"error: cannot listen on 127.0.0.1:{port}")
