"""``shipyard warm``: start, inspect or stop the warm server (``shipyard.cli.warm``)."""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.errors import ShipyardError


def warm(
    ctx: typer.Context,
    idle: Annotated[
        float,
        typer.Option("--idle", metavar="MINUTES", help="Exit after this long without a command."),
    ] = 30.0,
    status: Annotated[
        bool, typer.Option("--status", help="Say whether a server runs, and for which code.")
    ] = False,
    stop: Annotated[
        bool, typer.Option("--stop", help="Stop every warm server of this user.")
    ] = False,
) -> None:
    """Keep a server with the imports done, so that commands start in milliseconds.

    The server forks a child for each command, which runs it with the caller's
    arguments, directory, environment and terminal. It serves only the code it started
    with, and exits after --idle minutes without a command.
    """
    from shipyard.cli.warm import command

    entry = (ctx.obj or {}).get("entry")
    if entry is None:  # only ``shipyard.cli.main`` knows how a command starts
        raise ShipyardError("the warm server starts from the shipyard command only")
    command(idle=idle, status=status, stop=stop, entry=entry)
