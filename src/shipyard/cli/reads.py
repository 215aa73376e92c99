"""The read-only everyday commands: ``status``, ``history``, ``diff``, ``releases``, ``tickets``.

Their bodies live here, apart from Typer, so that ``shipyard.cli.main`` can run them
from a plain argument list (see ``fast_command``) without importing Typer; the Typer
commands in ``commands_deploy`` and ``commands_train`` call the same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shipyard.cli.common import console, remote, session


def status() -> None:
    """Per environment: what runs, since when, by whom, health, and what waits upstream."""
    from shipyard.cli.output import print_failures, status_table
    from shipyard.services.status import status as do_status

    if (server := remote()) is not None:
        rows = server.status()
        owed = server.call("GET", server.at("/rereverts"))
    else:
        from shipyard.services.rereverts import owed_json, owed_rereverts

        with session() as ctx:
            rows = do_status(ctx)
            owed = owed_json(owed_rereverts(ctx))
    console().print(status_table(rows))
    print_failures(rows)
    print_owed(owed)


def print_owed(rows: list[dict[str, Any]]) -> None:
    """The re-reverts owed, under the status table."""
    from rich.markup import escape

    if not rows:
        return
    c = console()
    c.print(f"\n[yellow]re-reverts owed ({len(rows)})[/]")
    for r in rows:
        keys = f" ({', '.join(r['tickets'])})" if r["tickets"] else ""
        c.print(
            escape(
                f"  {r['ref']} {r['title']}{keys}: reverted by {r['reverted_by']} "
                f"({r['reason']}) on {r['branch']}"
            )
        )


def history(environment: str, limit: int = 30) -> None:
    """List an environment's deployments, newest first."""
    from shipyard.cli.output import history_table
    from shipyard.services.views import history as do_history

    if (server := remote()) is not None:
        rows = server.history(environment, limit)
    else:
        with session() as ctx:
            rows = do_history(ctx, environment, limit)
    if not rows:
        console().print(f"no deployments to {environment} yet")
        return
    console().print(history_table(environment, rows))


def diff(target: str, source: str) -> None:
    """Show what SOURCE runs that TARGET does not: changes, tickets, QA status."""
    from shipyard.cli.output import print_diff
    from shipyard.services.views import diff as do_diff

    if (server := remote()) is not None:
        print_diff(server.diff(target, source))
        return
    with session() as ctx:
        print_diff(do_diff(ctx, target, source))


def releases(limit: int = 30) -> None:
    """List releases: pre-release or latest, and where each one runs."""
    from shipyard.cli.output import releases_table
    from shipyard.services.releases import list_releases

    if (server := remote()) is not None:
        rows = server.releases(limit)
    else:
        with session() as ctx:
            rows = list_releases(ctx, limit)
    if not rows:
        console().print("no releases yet: 'shipyard prerelease' cuts one")
        return
    console().print(releases_table(rows))


def tickets(status: str | None = None) -> None:
    """List tickets and their QA status."""
    from shipyard.cli.output import tickets_table

    if (server := remote()) is not None:
        rows = server.tickets(status)
    else:
        with session() as ctx, ctx.store.read() as s:
            rows = ctx.tracker.list(s, status)
    if not rows:
        console().print("no tickets" + (f" with status {status}" if status else ""))
        return
    console().print(tickets_table(rows))


# name -> (function, its positional parameters, its options and their types)
_COMMANDS: dict[str, tuple[Callable[..., None], int, dict[str, type]]] = {
    "status": (status, 0, {}),
    "history": (history, 1, {"limit": int}),
    "diff": (diff, 2, {}),
    "releases": (releases, 0, {"limit": int}),
    "tickets": (tickets, 0, {"status": str}),
}


def fast_command(args: list[str]) -> Callable[[], None] | None:
    """The call for a plain form of these commands, or None for anything else.

    ``--help``, a mistake or any form this does not know goes through Typer, which
    explains it; this only takes ``--NAME VALUE`` and ``--NAME=VALUE``."""
    if not args or args[0] not in _COMMANDS:
        return None
    func, npos, types = _COMMANDS[args[0]]
    positional: list[str] = []
    options: dict[str, Any] = {}
    rest = iter(args[1:])
    for arg in rest:
        if not arg.startswith("-"):
            positional.append(arg)
            continue
        name, eq, value = arg[2:].partition("=")
        if not arg.startswith("--") or name not in types or name in options:
            return None
        value = value if eq else next(rest, "")
        if not value or (types[name] is int and not value.isdigit()):
            return None
        options[name] = types[name](value)
    if len(positional) != npos:
        return None
    return lambda: func(*positional, **options)
