"""The bodies of ``shipyard approve`` and how ``deploy`` follows an approval, apart from Typer.

An approver's ``approve N [--reason R]`` starts from here without Typer
(``shipyard.cli.main``, see ``fast_command``), as the plain ``deploy`` does; the Typer
commands in ``commands_approve`` call the same functions, and the lean ``deploy``
(``cli/deploys.py``) ends with :func:`how_to_approve` or follows the server with
:func:`follow_remote` without loading Typer either.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shipyard.cli.common import console, remote, session
from shipyard.errors import DeployFailed, ShipyardError

POLL = 0.5


def approve(deployment: int, reason: str | None = None) -> None:
    """Approve a deployment awaiting approval; the last approval needed starts it."""
    from shipyard.services.deploy import approval, execution

    if (server := remote()) is not None:
        w = server.call(
            "POST", server.at(f"/deployments/{deployment}/approvals"), json={"reason": reason}
        )
        console().print(f"approved: {summary(w)}")
        if w["released"]:
            console().print(f"deployment #{deployment} runs now: 'shipyard history {_env(w)}'")
        return
    with session() as ctx:
        done = approval.approve(ctx, deployment, reason)
        console().print(f"approved: {done.waiting.summary()}")
        if not done.released:
            return
        if not done.run_here:
            console().print(f"deployment #{deployment} runs now, in the command that asked for it")
            return
        d = execution.run_approved(ctx, deployment)
    console().print(
        f"[green]✓[/] {done.waiting.environment} runs {d.ref} ({d.commit[:7]}), "
        f"tagged {d.tag}: deployment #{d.id}"
    )


def fast_command(args: list[str]) -> Callable[[], None] | None:
    """The call for ``approve N`` with at most ``--reason TEXT`` (or ``--reason=TEXT``);
    None for anything else (``--help``, a number Typer would refuse, another option),
    which Typer explains."""
    if args[:1] != ["approve"]:
        return None
    rest = args[1:]
    reason: str | None = None
    if len(rest) == 3 and rest[1] == "--reason" and not rest[2].startswith("-"):
        rest, reason = rest[:1], rest[2]
    elif len(rest) == 3 and rest[0] == "--reason" and not rest[1].startswith("-"):
        rest, reason = rest[2:], rest[1]
    elif len(rest) == 2 and rest[1].startswith("--reason="):
        rest, reason = rest[:1], rest[1].partition("=")[2]
    elif len(rest) == 2 and rest[0].startswith("--reason="):
        rest, reason = rest[1:], rest[0].partition("=")[2]
    if len(rest) != 1 or not (rest[0].isascii() and rest[0].isdigit()) or len(rest[0]) > 18:
        return None
    number = int(rest[0])
    return lambda: _collecting(number, reason)


def _collecting(deployment: int, reason: str | None) -> None:
    """``approve`` with the cyclic garbage collector on (the quick path turns it off): the
    last approval runs the deployment in this process."""
    import gc

    gc.enable()
    approve(deployment, reason)


def _env(w: dict[str, Any]) -> str:
    return str(w["deployment"]["environment"])


def summary(w: dict[str, Any]) -> str:
    """What ``Waiting.summary`` says, from the API's answer."""
    d, got, needed = w["deployment"], w["approvals"], w["needed"]
    who = f" ({', '.join(a['user'] for a in got)})" if got else ""
    line = f"#{d['id']} {d['environment']} {d['ref']} ({d['commit'][:7]}) by {d['requested_by']}: "
    line += f"{len(got)} of {needed} approval{'s' if needed != 1 else ''}{who}"
    if w["missing"]:
        line += f"; needs {w['missing']} more from {' or '.join(w['approvers'])}"
    return line


def how_to_approve(d: Any, environment: str) -> str:
    """The line ``deploy`` ends with when the deployment still awaits approval."""
    return (
        f"deployment #{d.id} to {environment} awaits approval: "
        f"'shipyard approve {d.id}' (by someone other than {d.requested_by}); "
        f"it runs when the last approval arrives; 'shipyard cancel {d.id}' drops it"
    )


def follow_remote(server: Any, d: Any, environment: str, wait: float) -> Any:
    """Follow a deployment the server holds until it awaits approval no more (up to
    ``wait`` seconds) and then until it ends; the final deployment, or the awaiting one."""
    deadline, said = time.monotonic() + wait, ""
    path = server.at(f"/deployments/{d.id}/approvals")
    while True:
        w = server.call("GET", path)
        state = w["deployment"]["state"]
        if state != "awaiting_approval":
            break
        if (line := summary(w)) != said:
            console().print(f"awaiting approval: {line}; 'shipyard approve {d.id}'")
            said = line
        if time.monotonic() >= deadline:
            return server._deployment(w["deployment"])
        time.sleep(POLL)
    end = time.monotonic() + 3600
    while state not in ("succeeded", "failed", "rolled_back", "cancelled"):
        if time.monotonic() >= end:
            raise ShipyardError(f"deployment #{d.id} is still {state} after an hour")
        time.sleep(POLL)
        w = server.call("GET", path)
        state = w["deployment"]["state"]
    out = server._deployment(w["deployment"])
    if state != "succeeded":
        raise DeployFailed(f"deployment #{d.id} {state.replace('_', ' ')}: {out.error or ''}")
    return out
