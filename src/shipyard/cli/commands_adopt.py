"""``shipyard adopt``: record what an environment already runs, rolling nothing out."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from shipyard.cli.common import console, remote, session
from shipyard.errors import ShipyardError


def adopt(
    environment: Annotated[str, typer.Argument(metavar="ENV")],
    ref: Annotated[
        str, typer.Argument(metavar="REF", help="What ENV runs today: a release tag or a SHA.")
    ],
    reason: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Why; recorded in the audit log.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Record that ENV already runs REF (an environment live before Shipyard).

    Nothing is rolled out. From then on diff, the gates and status count the
    changes after REF, e.g. ``shipyard adopt prod 2024.09.01``."""
    from shipyard.services.adopt import adopt as do_adopt
    from shipyard.services.adopt import adoption

    if (server := remote()) is not None:
        if not yes:
            raise ShipyardError("a remote adopt needs --yes")
        d = server.adopt(environment, ref, reason)
        short = d.commit[:7]
    else:
        with session() as ctx:
            a = adoption(ctx, environment, ref)
            _confirm(f"record that {environment} runs {ref} ({a.short_sha})", a.replaces, yes)
            d = do_adopt(ctx, a, reason=reason)
            short = a.short_sha
    console().print(
        f"[green]✓[/] {environment} runs {ref} ({short}), adopted: deployment #{d.id}; "
        "nothing was rolled out"
    )


def _confirm(what: str, replaces: str | None, yes: bool) -> None:
    c = console()
    c.print(f"[bold]{what}[/]; nothing is rolled out")
    if replaces:
        c.print(f"  replaces the adoption of {replaces}")
    if yes:
        return
    if not sys.stdin.isatty():
        raise ShipyardError("not asking without a terminal: pass --yes to adopt")
    if not typer.confirm(what[0].upper() + what[1:] + "?", default=False):
        raise ShipyardError("not adopted: cancelled at the prompt")
