"""A newcomer's first commands: ``--version``, ``init`` and the demo's own state."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
        "import sys; sys.argv = ['shipyard', '--version']; from shipyard.cli import main; main(); "
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
