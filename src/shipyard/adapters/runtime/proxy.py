"""The per-environment proxy: owns the stable port, forwards to the current instance.

A TCP proxy: each new connection on the stable port is piped to the instance's
private port chosen at accept time, so switching the target never cuts a
connection in flight. It runs as its own detached process, started by the
local runtime by file path (stdlib only, no Shipyard import)::

    python proxy.py --listen 127.0.0.1:8101 --target 40213 --control /state/stage.sock

The control socket (a unix socket, mode 0600) takes one JSON object per line
and answers one JSON line:

    {"op": "status"}              -> {"ok": true, "target": 40213, "connections": {"40213": 2}}
    {"op": "switch", "target": N} -> {"ok": true, "target": N, "previous": 40213}

``connections`` counts open connections per target, which lets the runtime
drain an old instance before stopping it. SIGTERM stops accepting, waits a
little for open connections, then exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import Counter
from typing import Any

CONNECT_TIMEOUT = 5.0
CHUNK = 64 * 1024
STOP_DRAIN = 5.0


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    print(f"{stamp} proxy: {message}", file=sys.stderr, flush=True)


class Proxy:
    """Accepts on the stable port and pipes each connection to the current target."""

    def __init__(self, upstream_host: str, target: int) -> None:
        self.upstream_host = upstream_host
        self.target = target
        self.connections: Counter[int] = Counter()

    async def handle_client(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        target = self.target
        self.connections[target] += 1
        try:
            upstream = await self._connect(target)
            if upstream is None:
                return
            up_r, up_w = upstream
            try:
                await asyncio.gather(_pipe(client_r, up_w, client_w), _pipe(up_r, client_w, up_w))
            finally:
                up_w.close()
        finally:
            client_w.close()
            self.connections[target] -= 1
            if self.connections[target] <= 0:
                del self.connections[target]

    async def _connect(
        self, target: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(self.upstream_host, target), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            if self.target != target:  # switched while we connected: use the new one
                return await self._connect(self.target)
            log(f"cannot reach instance on port {target}: {exc}")
            return None

    async def handle_control(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while line := await reader.readline():
                writer.write(json.dumps(self.command(line)).encode() + b"\n")
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    def command(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            op = request["op"]
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": "expected a JSON object with an 'op'"}
        if op == "status":
            return {"ok": True, "target": self.target, "connections": self._counts()}
        if op == "switch":
            target = request.get("target")
            if not isinstance(target, int) or not 0 < target < 65536:
                return {"ok": False, "error": "switch needs an integer 'target' port"}
            previous, self.target = self.target, target
            log(f"switched from port {previous} to port {target}")
            return {"ok": True, "target": target, "previous": previous}
        return {"ok": False, "error": f"unknown op {op!r}"}

    def _counts(self) -> dict[str, int]:
        return {str(port): count for port, count in self.connections.items() if count > 0}


async def _pipe(
    src: asyncio.StreamReader, dst: asyncio.StreamWriter, other: asyncio.StreamWriter
) -> None:
    """Copy until EOF, then half-close; on a reset, abort both sides."""
    try:
        while data := await src.read(CHUNK):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
    except OSError:
        dst.transport.abort()
        other.transport.abort()


async def serve(host: str, port: int, upstream_host: str, target: int, control: str) -> int:
    proxy = Proxy(upstream_host, target)
    try:
        server = await asyncio.start_server(proxy.handle_client, host, port, reuse_address=True)
    except OSError as exc:
        log(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
        return 2
    with contextlib.suppress(FileNotFoundError):
        os.unlink(control)
    old_umask = os.umask(0o077)
    try:
        control_server = await asyncio.start_unix_server(proxy.handle_control, control)
    except OSError as exc:
        log(f"cannot open control socket {control}: {exc.strerror or exc}")
        server.close()
        return 2
    finally:
        os.umask(old_umask)
    ours = os.stat(control).st_ino
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log(f"listening on {host}:{port}, forwarding to port {target}")
    await stop.wait()
    server.close()
    control_server.close()
    # A proxy started after us (the port changed) may have replaced the socket.
    with contextlib.suppress(FileNotFoundError):
        if os.stat(control).st_ino == ours:
            os.unlink(control)
    deadline = time.monotonic() + STOP_DRAIN
    while proxy.connections and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    log("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--listen", required=True, help="host:port of the stable port")
    parser.add_argument("--target", required=True, type=int, help="private port to forward to")
    parser.add_argument("--upstream-host", default="127.0.0.1")
    parser.add_argument("--control", required=True, help="path of the control unix socket")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    return asyncio.run(serve(host, int(port), args.upstream_host, args.target, args.control))


if __name__ == "__main__":
    sys.exit(main())
