"""Approvals: ``shipyard approve``, ``cancel`` and ``deployments --awaiting``.

``shipyard.cli.app`` registers the commands; ``approve``'s body, and how ``deploy``
waits for approvals, live in ``shipyard.cli.approvals`` (without Typer).
"""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli.approvals import summary
from shipyard.cli.common import console, remote, session


def approve(
    deployment: Annotated[int, typer.Argument(metavar="DEPLOYMENT", help="The deployment's id.")],
    reason: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Why; recorded with the approval.")
    ] = None,
) -> None:
    """Approve a deployment awaiting approval; the last approval needed starts it."""
    from shipyard.cli.approvals import approve as run

    run(deployment, reason)


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
        lines = [summary(w) for w in server.call("GET", server.at("/deployments/awaiting"))]
    else:
        with session() as ctx:
            lines = [w.summary() for w in do_awaiting(ctx)]
    if not lines:
        console().print("no deployment awaits approval")
    for line in lines:
        console().print(line, highlight=False, markup=False)
