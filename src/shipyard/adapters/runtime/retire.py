"""Retiring a replaced instance in the background, after the deploy that replaced it.

Once the proxy sends new connections to the new instance, the old one only has to
finish the connections it holds and exit; nobody needs to wait for that. The local
runtime starts this module as a detached process (``python -I -m
shipyard.adapters.runtime.retire``), which waits until the proxy counts no open
connection to the old instance's port (at most ``--drain`` seconds), then stops every
process carrying the old instance's token (SIGTERM, SIGKILL after ``--grace``)::

    python -I -m shipyard.adapters.runtime.retire --control /state/stage.sock \\
        --port 40213 --token 3f2a... --pid 4242 --drain 5 --grace 10

The instance stays listed under ``retiring`` in the environment's state until it is
gone, so ``down`` stops it even if this process never finishes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from shipyard.adapters.runtime import control, procs
from shipyard.adapters.runtime.state import InstanceRecord, ProxyRecord, now_iso

MODULE = "shipyard.adapters.runtime.retire"


def spawn(
    python: str, proxy: ProxyRecord | None, old: InstanceRecord, *, drain: float, grace: float
) -> int:
    """Start the detached process retiring ``old``; its pid. Its output goes to the
    proxy's log (or the old instance's when there is no proxy)."""
    argv = [python, "-I", "-m", MODULE, "--port", str(old.port), "--token", old.token]
    argv += ["--drain", f"{drain:g}", "--grace", f"{grace:g}"]
    if old.pid is not None:
        argv += ["--pid", str(old.pid)]
    if proxy is not None:
        argv += ["--control", proxy.control]
    env = {"PATH": os.environ.get("PATH", os.defpath), procs.TOKEN_VAR: procs.new_token()}
    return procs.spawn(argv, env, Path(proxy.log if proxy else old.log))


def retire(
    control_path: str | None, port: int, token: str, pid: int | None, *, drain: float, grace: float
) -> bool:
    """Drain ``port`` in the proxy, then stop the processes of ``token``; True once gone."""
    if control_path:
        proxy = ProxyRecord(token="", pid=None, log="", started_at=now_iso(), control=control_path)
        control.drain(proxy, port, drain)
    return procs.stop(token, pid, grace=grace)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--control", help="the proxy's control socket")
    parser.add_argument("--port", required=True, type=int, help="the old instance's private port")
    parser.add_argument("--token", required=True, help="the old instance's SHIPYARD_PROCESS")
    parser.add_argument("--pid", type=int)
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--grace", type=float, default=10.0)
    args = parser.parse_args(argv)
    stopped = retire(
        args.control, args.port, args.token, args.pid, drain=args.drain, grace=args.grace
    )
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    said = "stopped" if stopped else "would not stop"
    print(f"{stamp} retire: instance on port {args.port} {said}", file=sys.stderr, flush=True)
    return 0 if stopped else 1


if __name__ == "__main__":
    sys.exit(main())
