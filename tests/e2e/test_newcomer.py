"""A newcomer's first commands: ``--version``, ``init`` and the demo's own state."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import SHIPYARD
from shipyard import __version__
from shipyard.config import load
from shipyard.demo import DEMO_PORTS
from shipyard.demo.repo import DemoRepo

BO = ("Bo Dev", "bo@example.com")


def _cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SHIPYARD, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
        env={**os.environ, "SHIPYARD_USER": "ana@example.com", **(env or {})},
    )


def test_version_is_printed_without_loading_the_command_line(tmp_path: Path) -> None:
    r = _cli(tmp_path, "--version")
    assert (r.returncode, r.stdout, r.stderr) == (0, f"shipyard {__version__}\n", "")
    assert _cli(tmp_path, "-V").stdout == f"shipyard {__version__}\n"
    # the fast path: neither Typer nor the database layer is imported for it
    probe = (
        "import sys; sys.argv = ['shipyard', '--version']; from shipyard.cli.main import main; main(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'sqlalchemy')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.splitlines() == [f"shipyard {__version__}", "[]"]
    assert "--version" in _cli(tmp_path, "--help").stdout


@contextmanager
def _listening(port: int) -> Iterator[None]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        yield


def _repo(where: Path, remote: str | None = None) -> DemoRepo:
    repo = DemoRepo.create(where)
    repo.commit("Initial commit", {"app.py": "print()\n"}, author=BO)
    if remote:
        repo.git("remote", "add", "origin", remote)
    return repo


@pytest.mark.usefixtures("demo_ports")
def test_init_writes_free_ports_python3_and_no_placeholder_urls(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "app", "git@github.com:acme/monitor.git")
    first_free = next(p for p in range(DEMO_PORTS[-1] + 1, 9000) if _free(p))
    with _listening(first_free):  # a port in use is never written
        r = _cli(repo.path, "init")
    assert r.returncode == 0, r.stderr
    text = (repo.path / "shipyard.toml").read_text()
    data = tomllib.loads(text)
    ports = [env["port"] for env in data["environments"].values()]
    assert len(set(ports)) == 3
    assert not set(ports) & {*DEMO_PORTS, first_free}
    assert data["app"]["run"] == "python3 app.py"
    assert data["app"]["source"] == "https://github.com/acme/monitor"
    urls = [w for w in text.split() if "://" in w]
    assert urls == ['"https://github.com/acme/monitor"'], urls  # no example.com, no made-up site
    settings = load(repo.path / "shipyard.toml")
    assert settings.environments["stage"].port == ports[0]


def test_init_without_a_github_remote_writes_no_source(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "app", "https://git.example.org/acme/monitor.git")
    r = _cli(repo.path, "init", "--run", 'node "server.js"')
    assert r.returncode == 0, r.stderr
    data = tomllib.loads((repo.path / "shipyard.toml").read_text())
    assert "source" not in data["app"]
    assert data["app"]["run"] == 'node "server.js"'  # quoted as TOML, loads back the same


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists()


@pytest.mark.usefixtures("demo_ports")
def test_the_demo_is_its_users_takes_free_ports_fits_80_columns_and_stops_only_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    env = {"XDG_STATE_HOME": str(state), "COLUMNS": "80"}
    monkeypatch.delenv("SHIPYARD_DEMO_MARKER", raising=False)
    # stands for a process someone else started, in its own session as the dashboard is
    decoy = subprocess.Popen(["sleep", "120"], start_new_session=True)
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past a TIME_WAIT
    try:
        try:
            holder.bind(("127.0.0.1", DEMO_PORTS[1]))  # 8101 taken (if not taken already)
            holder.listen()
        except OSError:
            pass
        r = _cli(tmp_path, "demo", "--where", str(tmp_path / "demo"), env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        # only a line naming the sample repository's (long, temporary) path may run longer
        repo = str(tmp_path / "demo" / "monitor")
        too_wide = [ln for ln in r.stdout.splitlines() if len(ln) > 80 and repo not in ln]
        assert not too_wide, too_wide
        urls = [w for w in r.stdout.split() if w.startswith("http://127.0.0.1:")]
        ports = {int(u.split(":")[2].strip("/")) for u in urls}
        assert len(ports) == 3 and not ports & set(DEMO_PORTS), urls

        markers = list((state / "shipyard").glob("demo-*.json"))
        assert len(markers) == 1  # in the user's state directory, not a shared /tmp
        assert markers[0].stat().st_mode & 0o777 == 0o600
        assert (state / "shipyard").stat().st_mode & 0o777 == 0o700
        marker = json.loads(markers[0].read_text())
        server = marker["server_pid"]
        assert _alive(server)

        # a marker naming another process (a reused pid) stops nothing but the demo's own
        markers[0].write_text(json.dumps({**marker, "server_pid": decoy.pid}))
        stop = _cli(tmp_path, "demo", "--stop", env=env)
        assert stop.returncode == 0, stop.stderr
        assert "stopped the demo" in stop.stdout
        assert decoy.poll() is None, "demo --stop killed a process it did not start"
        for _ in range(50):
            if not _alive(server):
                break
            time.sleep(0.1)
        assert not _alive(server)
        assert not markers[0].exists() and not (tmp_path / "demo" / "monitor").exists()
    finally:
        holder.close()
        decoy.kill()
        decoy.wait(timeout=10)
        _cli(tmp_path, "demo", "--stop", env=env)


def test_demo_stop_leaves_another_users_demo_alone(tmp_path: Path) -> None:
    marker = tmp_path / "marker.json"
    decoy = subprocess.Popen(["sleep", "120"])
    try:
        theirs = tmp_path / "theirs"
        theirs.mkdir()
        marker.write_text(
            json.dumps(
                {
                    "repo": str(theirs),
                    "remove": str(theirs),
                    "uid": os.getuid() + 1,
                    "server_pid": decoy.pid,
                    "server_token": "abc",
                }
            )
        )
        r = _cli(tmp_path, "demo", "--stop", env={"SHIPYARD_DEMO_MARKER": str(marker)})
        assert r.returncode == 0 and "no demo of yours is running" in r.stdout
        assert decoy.poll() is None and theirs.exists() and marker.exists()
    finally:
        decoy.kill()
        decoy.wait(timeout=10)
