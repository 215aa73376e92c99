"""``shipyard qa verify KEY...``'s body, apart from Typer.

QA signs tickets off many times a day, each a command of its own, and Typer with its
parameter coercion (pydantic) takes longer to load and to read a few keys than the
sign-off itself: ``shipyard.cli.main`` runs the plain form (keys only, see
``fast_command``) without it, and the Typer command in ``commands_train`` calls the same
function.
"""

from __future__ import annotations

from collections.abc import Callable

from shipyard.cli.common import console, remote, session


def verify(keys: list[str]) -> None:
    """Mark ``keys`` QA-verified (locally, or through the server ``SHIPYARD_URL`` names)
    and say so, one line each; a ticket promoted already is left as it was."""
    from shipyard.adapters.tracker.builtin import VERIFIED

    if (server := remote()) is not None:
        done = [
            (t["key"], t["status"], t["promoted_to"], t["updated_by"])
            for t in server.call("POST", server.at("/tickets/verify"), json={"keys": keys})
        ]
    else:
        from shipyard.services.tickets import set_status

        with session() as ctx:
            rows = set_status(ctx, keys, VERIFIED)
        done = [(t.key, t.status, t.promoted_to, t.updated_by) for t in rows]
    for key, status, where, by in done:
        if status == VERIFIED:
            console().print(f"[green]✓[/] {key} verified by {by}")
        else:  # promoted: signed off and shipped already, left as it was
            console().print(
                f"[green]✓[/] {key} is promoted to {where or 'prod'} already: unchanged"
            )


def fast_command(args: list[str]) -> Callable[[], None] | None:
    """The call for ``qa verify KEY...`` with one key or more and nothing else; None for
    anything else (no key, an option, ``--help``, ``--``), which Typer explains."""
    keys = args[2:]
    if args[:2] != ["qa", "verify"] or not keys or any(k.startswith("-") for k in keys):
        return None
    return lambda: verify(keys)
