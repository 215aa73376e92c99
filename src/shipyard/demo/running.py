"""The running demo: which ports it takes, its dashboard, and how it is stopped.

A demo belongs to the user who started it and to the checkout it was started from.
Its marker lives in that user's state directory (``$XDG_STATE_HOME/shipyard`` or
``~/.local/state/shipyard``, one file per checkout), never in a ``/tmp`` shared by
every user; ``SHIPYARD_DEMO_MARKER`` names another file. ``demo --stop`` stops only
what the marker records: the dashboard by the token its process carries (a reused
pid is not it), and the sample app's environments through its own state.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from shipyard.adapters.runtime import procs
from shipyard.demo import DEMO_PORTS
from shipyard.errors import ShipyardError

HOST = "127.0.0.1"
RELEASER = "ana@example.com"


def marker_path() -> Path:
    """Where this user's demo of this checkout is remembered."""
    if os.environ.get("SHIPYARD_DEMO_MARKER"):
        return Path(os.environ["SHIPYARD_DEMO_MARKER"])
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    checkout = hashlib.sha256(str(Path(__file__).resolve().parents[1]).encode()).hexdigest()
    return Path(state) / "shipyard" / f"demo-{checkout[:12]}.json"


@dataclass
class Marker:
    """What one demo started: its sample repository, the folder to remove, its dashboard."""

    repo: str
    remove: str
    uid: int
    server_pid: int | None = None
    server_token: str | None = None

    def save(self) -> None:
        path = marker_path()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(self), f)

    @classmethod
    def load(cls) -> Marker | None:
        try:
            data = json.loads(marker_path().read_text())
            found = cls(**data)
        except (OSError, ValueError, TypeError):
            return None
        # a marker another user left where SHIPYARD_DEMO_MARKER points is not ours to act on
        return found if found.uid == os.getuid() else None


def demo_ports() -> tuple[int, int, int, int]:
    """The dashboard's, stage's, prod's and dev's ports: 8100-8103 when all are free,
    else four free ones the kernel picks (a demo beside another never takes its ports)."""
    if all(procs.port_is_free(HOST, p) for p in DEMO_PORTS):
        return DEMO_PORTS
    found: list[int] = []
    while len(found) < 4:
        port = procs.free_port(HOST)
        if port not in found and port not in DEMO_PORTS:
            found.append(port)
    return found[0], found[1], found[2], found[3]


def get(url: str) -> str:
    for _ in range(20):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            time.sleep(0.1)
    return "(no answer)"


def start_server(marker: Marker, port: int) -> tuple[str | None, str | None]:
    """Start ``shipyard serve`` for the sample app in the background; its URL and admin token."""
    repo = Path(marker.repo)
    log = repo / ".shipyard" / "serve.log"
    token = procs.new_token()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shipyard", "serve", "--no-schedule", "--port", str(port)],
            cwd=repo,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "SHIPYARD_USER": RELEASER, procs.TOKEN_VAR: token},
        )
    marker.server_pid, marker.server_token = proc.pid, token
    marker.save()
    url = f"http://{HOST}:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"(shp_\S+)", log.read_text())
        if found and get(url + "healthz") != "(no answer)":
            return url, found.group(1)
        time.sleep(0.1)
    procs.stop(token, proc.pid, grace=5.0)
    return None, None


def stop_demo(*, quiet: bool = False) -> str | None:
    """Stop what this user's demo of this checkout started and remove its folder; say what
    was done (None when no demo of ours runs)."""
    from shipyard.cli.output import console

    marker = Marker.load()
    if marker is None:
        if not quiet:
            console().print("no demo of yours is running from this checkout")
        return None
    procs.stop(marker.server_token, marker.server_pid)
    repo = Path(marker.repo)
    if (repo / "shipyard.toml").exists():
        _bring_down(repo)
    marker_path().unlink(missing_ok=True)
    shutil.rmtree(marker.remove, ignore_errors=True)
    if not quiet:
        console().print(f"stopped the demo's dashboard and environments;\nremoved {marker.remove}")
    return marker.remove


def _bring_down(repo: Path) -> None:
    from shipyard.config import load
    from shipyard.services.context import open_context
    from shipyard.services.runtime import bring_down

    try:
        ctx = open_context(load(repo / "shipyard.toml"), actor=RELEASER)
    except ShipyardError:
        return  # its state is gone already: nothing of it runs
    try:
        bring_down(ctx)
    finally:
        ctx.close()
