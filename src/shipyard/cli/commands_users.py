"""Users and API tokens: ``shipyard user add|list|disable`` and ``shipyard token
create|revoke``; ``shipyard.cli.app`` registers them.

Like every command, each drives the server when ``SHIPYARD_URL`` is set (the API's
``/api/v1/users`` and ``/api/v1/tokens``), and the local database otherwise.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer

from shipyard.cli.common import console, remote, session
from shipyard.errors import ShipyardError

if TYPE_CHECKING:
    from rich.table import Table


def user_add(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    role: Annotated[
        str, typer.Option(metavar="ROLE", help="viewer, engineer, qa, releaser or admin.")
    ],
) -> None:
    """Add a user of the server."""
    from shipyard.services.users import add_user

    if (server := remote()) is not None:
        server.call("POST", "/api/v1/users", json={"name": name, "role": role})
    else:
        with session() as ctx:
            add_user(ctx.store, name, role, actor=ctx.actor)
    console().print(
        f"added {name} ({role}); 'shipyard token create --user {name}' gives them a token",
        markup=False,
    )


def user_list() -> None:
    """Every user: role, state, active tokens, when one was last used, when added (through a
    server: admin only)."""
    if (server := remote()) is not None:
        rows = [_listed(u) for u in server.call("GET", "/api/v1/users")]
    else:
        from shipyard.services.users import list_users

        with session() as ctx:
            rows = [
                (u.name, u.role, bool(u.disabled), u.created_at, [_token(t) for t in tokens])
                for u, tokens in list_users(ctx.store)
            ]
    console().print(users_table(rows))


Token = tuple[str, datetime | None, datetime | None]  # name, revoked at, last used at
Listed = tuple[str, str, bool, datetime | None, list[Token]]  # name, role, disabled, added


def _token(t: Any) -> Token:
    return t.name, t.revoked_at, t.last_used_at


def _listed(u: dict[str, Any]) -> Listed:
    def at(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    tokens = [(t["name"], at(t["revoked_at"]), at(t.get("last_used_at"))) for t in u["tokens"]]
    return u["name"], u["role"], bool(u["disabled"]), at(u["created_at"]), tokens


def users_table(rows: list[Listed]) -> Table:
    from rich.markup import escape

    from shipyard.cli.output import _table, when

    t = _table("User", "Role", "State", "Tokens", "Last used", "Added")
    for name, role, disabled, added, tokens in rows:
        active = [n for n, revoked, _ in tokens if revoked is None]
        revoked = len(tokens) - len(active)
        names = ", ".join(active) or "-"
        # The newest use of a token still active: what a stale account's review asks.
        used = max((u for _, r, u in tokens if r is None and u is not None), default=None)
        t.add_row(
            escape(name),
            role,
            "[red]disabled[/]" if disabled else "active",
            escape(names) + (f" [dim]({revoked} revoked)[/]" if revoked else ""),
            when(used),
            when(added),
        )
    return t


def token_create(
    user: Annotated[str, typer.Option(metavar="NAME", help="Whose token.")],
    name: Annotated[
        str | None,
        typer.Option(
            metavar="LABEL",
            help="What the token is for (default: cli, or cli-2 ... when taken).",
        ),
    ] = None,
) -> None:
    """Create an API token; it is printed once and only its hash is kept."""
    from shipyard.services.users import create_token

    if (server := remote()) is not None:
        made = server.call("POST", "/api/v1/tokens", json={"user": user, "name": name})
        owner, label, token = made["user"], made["name"], made["token"]
    else:
        with session() as ctx:
            t = create_token(ctx.store, user, name, actor=ctx.actor)
        owner, label, token = t.user, t.name, t.token
    console().print(f"token for {owner} ({label}), shown once:", markup=False)
    sys.stdout.write(token + "\n")


def token_revoke(
    user: Annotated[str, typer.Option(metavar="NAME", help="Whose token.")],
    name: Annotated[
        str | None, typer.Option(metavar="LABEL", help="Which of their tokens (its label).")
    ] = None,
    all_tokens: Annotated[
        bool, typer.Option("--all", help="Revoke every token of the user.")
    ] = False,
) -> None:
    """Revoke a token (admin only); it stops working at once on the servers of this host
    (every worker; with SHIPYARD_URL set, the server's host), within 5 s on any other."""
    from shipyard.services.stamps import users_stamp
    from shipyard.services.users import revoke_tokens

    if (name is None) == (not all_tokens):
        raise ShipyardError("name the token with --name LABEL, or give --all (not both)")
    if (server := remote()) is not None:
        params = {"name": name} if name is not None else None
        count = server.call("DELETE", f"/api/v1/users/{quote(user)}/tokens", params=params)[
            "revoked"
        ]
    else:
        with session() as ctx:
            count = revoke_tokens(ctx.store, user, name, actor=ctx.actor)
            users_stamp(ctx.settings.state_dir).touch()  # at once on this host's servers
    console().print(f"revoked {count} token(s) of {user}", markup=False)


def user_disable(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable the user again.")] = False,
) -> None:
    """Disable a user (admin only): their tokens and dashboard sessions stop working."""
    from shipyard.services.stamps import users_stamp
    from shipyard.services.users import set_disabled

    if (server := remote()) is not None:
        op = "enable" if enable else "disable"
        changed = server.call("POST", f"/api/v1/users/{quote(name)}/{op}")["changed"]
    else:
        with session() as ctx:
            changed = set_disabled(ctx.store, name, not enable, actor=ctx.actor)
            users_stamp(ctx.settings.state_dir).touch()  # at once on this host's servers
    state = "enabled" if enable else "disabled"
    console().print(f"{name} {state}" if changed else f"{name} was {state} already", markup=False)
