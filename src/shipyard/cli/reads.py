"""The read-only everyday commands: ``status``, ``history``, ``diff``, ``releases``, ``tickets``.

Their bodies live here, apart from Typer, so that ``shipyard.cli.main`` can run them
from a plain argument list (see ``fast_command``) without importing Typer; the Typer
commands in ``commands_deploy`` and ``commands_train`` call the same functions.

Locally, each first asks ``services.quick`` (plain rows from SQLite, no SQLAlchemy);
when it cannot answer exactly as the store would, the command opens the full session.
``SHIPYARD_READ_PATH`` chooses for diagnostics: ``full`` always opens the session,
``quick`` never does (a read the quick path cannot answer fails, saying why).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from shipyard.cli.common import console, remote, session

if TYPE_CHECKING:
    from shipyard.services.context import Context
    from shipyard.services.quick import Quick

T = TypeVar("T")
PATH_VARIABLE = "SHIPYARD_READ_PATH"
MAX_LIMIT = 1_000_000


def checked_limit(limit: int, option: str = "--limit", most: int = MAX_LIMIT) -> int:
    """``--limit``, when a database can take it (a huge one is a mistake, not a query; none
    or fewer is a mistake too, not "everything")."""
    if not 1 <= limit <= most:
        from shipyard.errors import ShipyardError

        raise ShipyardError(f"{option} must be at least 1 and at most {most}, not {limit}")
    return limit


def _local(quick: Callable[[Quick], T], full: Callable[[Context], T]) -> T:
    """``quick``'s answer when the quick path can give it, else ``full``'s in a session."""
    from shipyard.config import load

    settings = load()
    chosen = os.environ.get(PATH_VARIABLE, "")
    if chosen != "full":
        from shipyard.services.quick import Unanswered, opened

        try:
            with opened(settings) as q:
                return quick(q)
        except Unanswered as exc:
            if chosen == "quick":
                from shipyard.errors import ShipyardError

                raise ShipyardError(f"the quick read path cannot answer: {exc.reason}") from None
    with session(settings=settings) as ctx:
        return full(ctx)


def status() -> None:
    """Per environment: what runs, since when, by whom, health, and what waits upstream."""
    from shipyard.cli.fitting import print_status
    from shipyard.cli.output import print_failures

    if (server := remote()) is not None:
        rows = server.status()
        owed = server.call("GET", server.at("/rereverts"))
    else:
        from shipyard.services import quick

        rows, owed = _local(quick.status, _full_status)
    print_status(rows)
    print_failures(rows)
    print_owed(owed)


def _full_status(ctx: Context) -> tuple[list[Any], list[dict[str, Any]]]:
    from shipyard.services.rereverts import owed_json, owed_rereverts
    from shipyard.services.status import status as do_status

    rows = do_status(ctx)
    return rows, owed_json(owed_rereverts(ctx))


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
    from shipyard.cli.fitting import print_history

    limit = checked_limit(limit)
    if (server := remote()) is not None:
        rows = server.history(environment, limit)
    else:
        from shipyard.services import quick

        def full(ctx: Context) -> list[Any]:
            from shipyard.services.views import history as do_history

            return do_history(ctx, environment, limit)

        rows = _local(lambda q: quick.history(q, environment, limit), full)
    if not rows:
        console().print(f"no deployments to {environment} yet")
        return
    print_history(environment, rows)


def diff(target: str, source: str) -> None:
    """Show what SOURCE runs that TARGET does not: changes, tickets, QA status."""
    from shipyard.cli.output import print_diff

    if (server := remote()) is not None:
        print_diff(server.diff(target, source))
        return
    from shipyard.services import quick

    def full(ctx: Context) -> Any:
        from shipyard.services.views import diff as do_diff

        return do_diff(ctx, target, source)

    print_diff(_local(lambda q: quick.diff(q, target, source), full))


def releases(limit: int = 30) -> None:
    """List releases: pre-release or latest, and where each one runs."""
    from shipyard.cli.output import releases_table

    limit = checked_limit(limit)
    if (server := remote()) is not None:
        rows = server.releases(limit)
    else:
        from shipyard.services import quick

        def full(ctx: Context) -> list[Any]:
            from shipyard.services.releases import list_releases

            return list_releases(ctx, limit)

        rows = _local(lambda q: quick.releases(q, limit), full)
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
        from shipyard.services import quick

        def full(ctx: Context) -> list[Any]:
            with ctx.store.read() as s:
                return list(ctx.tracker.list(s, status))

        rows = _local(lambda q: quick.tickets(q, status), full)
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
