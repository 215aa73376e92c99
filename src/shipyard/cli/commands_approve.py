"""Approvals: ``shipyard approve``, ``cancel`` and ``deployments --awaiting``, and how
``deploy`` waits for approvals (locally, or following the server).

``shipyard.cli.app`` registers the commands.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from shipyard.cli.common import console, remote, session
from shipyard.errors import DeployFailed, ShipyardError

POLL = 0.5


def approve(
    deployment: Annotated[int, typer.Argument(metavar="DEPLOYMENT", help="The deployment's id.")],
    reason: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Why; recorded with the approval.")
    ] = None,
) -> None:
    """Approve a deployment awaiting approval; the last approval needed starts it."""
    from shipyard.services.deploy import approval, execution

    if (server := remote()) is not None:
        w = server.call(
            "POST", server.at(f"/deployments/{deployment}/approvals"), json={"reason": reason}
        )
        console().print(f"approved: {_summary(w)}")
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


def cancel(
    deployment: Annotated[int, typer.Argument(metavar="DEPLOYMENT", help="The deployment's id.")],
    reason: Annotated[str | None, typer.Option(metavar="TEXT", help="Why; recorded.")] = None,
) -> None:
    """Cancel a deployment awaiting approval (its requester, or someone who may deploy)."""
    from shipyard.services.deploy.approval import cancel as do_cancel

    if (server := remote()) is not None:
        server.call("POST", server.at(f"/deployments/{deployment}/cancel"), json={"reason": reason})
    else:
        with session() as ctx:
            do_cancel(ctx, deployment, reason)
    console().print(f"deployment #{deployment} cancelled")


def deployments(
    awaiting: Annotated[
        bool, typer.Option("--awaiting", help="Those awaiting approval (the only listing yet).")
    ] = True,
) -> None:
    """List the deployments awaiting approval, with who approved and what is missing."""
    from shipyard.services.deploy.approval import awaiting as do_awaiting

    if (server := remote()) is not None:
        lines = [_summary(w) for w in server.call("GET", server.at("/deployments/awaiting"))]
    else:
        with session() as ctx:
            lines = [w.summary() for w in do_awaiting(ctx)]
    if not lines:
        console().print("no deployment awaits approval")
    for line in lines:
        console().print(line, highlight=False, markup=False)


def _env(w: dict[str, Any]) -> str:
    return str(w["deployment"]["environment"])


def _summary(w: dict[str, Any]) -> str:
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
        if (line := _summary(w)) != said:
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
