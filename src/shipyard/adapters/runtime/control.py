"""Starting the proxy process (``proxy.py``) and steering it over its control socket."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from shipyard.adapters.runtime import procs
from shipyard.adapters.runtime.state import ProxyRecord, now_iso

PROXY_SCRIPT = Path(__file__).with_name("proxy.py")

# sun_path holds 108 bytes on Linux, 104 on macOS; keep a margin.
MAX_SOCKET_PATH = 100


class ControlError(Exception):
    """The proxy did not answer, or refused the command."""


def socket_path(preferred: Path) -> Path:
    """``preferred`` if it fits in a unix socket address, else a short private path."""
    if len(os.fsencode(preferred)) <= MAX_SOCKET_PATH:
        return preferred
    digest = hashlib.sha256(os.fsencode(preferred)).hexdigest()[:20]
    base = Path(tempfile.gettempdir()) / f"shipyard-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    if base.stat().st_uid != os.getuid():
        raise ControlError(f"{base} belongs to another user")
    return base / f"{digest}.sock"


def request(path: Path, payload: dict[str, Any], *, timeout: float = 2.0) -> dict[str, Any]:
    """Send one command and return the proxy's answer; ControlError on any failure."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(os.fspath(path))
            sock.sendall(json.dumps(payload).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise ControlError(f"proxy control socket {path}: {exc.strerror or exc}") from exc
    try:
        answer = json.loads(data)
    except ValueError as exc:
        raise ControlError(f"proxy sent an unreadable answer: {data[:80]!r}") from exc
    if not isinstance(answer, dict) or not answer.get("ok"):
        error = answer.get("error") if isinstance(answer, dict) else answer
        raise ControlError(f"proxy refused {payload.get('op')}: {error}")
    return answer


def status(path: Path) -> tuple[int, dict[int, int]]:
    """The proxy's current target port and its open connections per target."""
    answer = request(path, {"op": "status"})
    counts = {int(port): int(n) for port, n in dict(answer.get("connections", {})).items()}
    return int(answer["target"]), counts


def switch(path: Path, target: int) -> None:
    """Point new connections at ``target``; returns once the proxy acknowledged."""
    answer = request(path, {"op": "switch", "target": target})
    if answer.get("target") != target:
        raise ControlError(f"proxy acknowledged port {answer.get('target')}, not {target}")


def spawn_proxy(
    python: str, host: str, port: int, target: int, sock: Path, log: Path, labels: dict[str, str]
) -> ProxyRecord:
    """Start a detached proxy on ``host:port`` forwarding to ``target``.

    ``labels`` land in its environment (``SHIPYARD_APP``, ``SHIPYARD_ENV``).
    """
    token = procs.new_token()
    argv = [python, "-I", str(PROXY_SCRIPT), "--listen", f"{host}:{port}"]
    argv += ["--target", str(target), "--upstream-host", host, "--control", str(sock)]
    env = {"PATH": os.environ.get("PATH", os.defpath), **labels, procs.TOKEN_VAR: token}
    pid = procs.spawn(argv, env, log)
    return ProxyRecord(
        token=token, pid=pid, log=str(log), started_at=now_iso(), port=port, control=str(sock)
    )


def wait_started(proxy: ProxyRecord, target: int, timeout: float) -> None:
    """Return once the proxy answers on its control socket; ControlError if it never does."""
    deadline = time.monotonic() + timeout
    pauses = procs.pauses()
    while target_of(proxy) != target:
        exited = proxy.pid is not None and procs.exit_code(proxy.pid) is not None
        if exited or time.monotonic() >= deadline:
            procs.stop(proxy.token, proxy.pid, grace=1.0)
            tail = procs.log_tail(Path(proxy.log), 5)
            raise ControlError(tail[-1] if tail else "no output")
        time.sleep(next(pauses))


def is_running(proxy: ProxyRecord | None) -> bool:
    return proxy is not None and procs.is_running(proxy.pid, proxy.token)


def target_of(proxy: ProxyRecord) -> int | None:
    """The port the proxy forwards to, or None if it does not answer."""
    try:
        target, _ = status(Path(proxy.control))
    except ControlError:
        return None
    return target


def drain(proxy: ProxyRecord | None, port: int, timeout: float) -> None:
    """Wait (at most ``timeout``) until no connection to ``port`` is open in the proxy."""
    deadline = time.monotonic() + timeout
    pauses = procs.pauses()
    while proxy is not None and time.monotonic() < deadline:
        try:
            _, connections = status(Path(proxy.control))
        except ControlError:
            return
        if not connections.get(port):
            return
        time.sleep(next(pauses))
