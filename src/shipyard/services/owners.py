"""Who owns a deployment, a lease or a scheduled run: ``host:pid:process-start``.

On the same host an owner is alive only while a process with that pid *and*
that start time exists, so a pid reused after a crash is not mistaken for the
dead owner. An owner on another host cannot be checked that way: a deployment's
owner renews a heartbeat lease while it runs (``services.deploy.heartbeat``),
and other records are trusted until they have been silent for ``stale_after``
seconds.

The host is ``SHIPYARD_POD_NAME`` when it is set (on Kubernetes, the pod's name
from the downward API), else the machine's hostname.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

POD_NAME_VARIABLE = "SHIPYARD_POD_NAME"


def host_name() -> str:
    """The host part of this process's owner id: the pod name, else the hostname.

    A ``:`` would split the owner id, so it becomes ``-``."""
    pod = os.environ.get(POD_NAME_VARIABLE, "").strip()
    return (pod or socket.gethostname()).replace(":", "-")


def owner_id() -> str:
    """This process, as ``host:pid:start-time``: what leases and deployments record as owner."""
    return f"{host_name()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def on_this_host(owner: str | None) -> bool:
    return bool(owner) and str(owner).split(":", 1)[0] == host_name()


def owner_alive(
    owner: str | None, stale_after: float = 3600.0, updated_at: datetime | None = None
) -> bool:
    if not owner:
        return False
    host, pid, started = [*owner.split(":"), "", "", ""][:3]
    if host != host_name():
        # Another machine: trust it until it has been silent too long.
        if updated_at is None:
            return True
        age = datetime.now(UTC) - updated_at.replace(tzinfo=updated_at.tzinfo or UTC)
        return age.total_seconds() < stale_after
    return pid.isdigit() and _start_time(int(pid)) == started != "?"
