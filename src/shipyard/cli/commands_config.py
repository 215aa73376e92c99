"""An environment's variables and secrets: ``shipyard config``, ``grant``, ``secrets``.

``shipyard config ENV`` lists the variables (secrets masked); ``config set|unset``
make a change request that ``config approve`` (another person) activates; ``config get``
reads one value under an approved grant (``grant request|approve``). Secret values
come from stdin or ``--from-file``, never from the command line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from shipyard.cli import remote_config as rc
from shipyard.cli.common import console, remote, session
from shipyard.errors import ShipyardError

MAX_INPUT = 64_000


class ShowByDefault(TyperGroup):
    """``shipyard config ENV`` is ``shipyard config show ENV``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


Env = Annotated[str, typer.Argument(metavar="ENV")]
Version = Annotated[int, typer.Argument(metavar="VERSION")]
Cas = Annotated[
    int | None,
    typer.Option("--cas", metavar="N", help="Refuse unless the active version is still N."),
]


def show(environment: Env) -> None:
    """The variables of ENV (secrets masked), their version, who changed them and when."""
    from rich.markup import escape

    from shipyard.cli.output import _table, when
    from shipyard.services.config_changes import versions
    from shipyard.services.envconfig import listing

    if (server := remote()) is not None:
        active, running, rows, pending = rc.listing(server, environment)
    else:
        with session() as ctx:
            active, running, rows = listing(ctx, environment)
            pending = [v for v in versions(ctx, environment) if v.state == "pending"]
    t = _table("Name", "Value", "Kind", "Version", "Changed by", "Changed at")
    for e in rows:
        t.add_row(
            e.name, escape(e.shown), e.kind, str(e.changed_in), e.changed_by, when(e.changed_at)
        )
    out = console()
    out.print(f"{environment}: config version {active}")
    if rows:
        out.print(t)
    else:
        out.print(f"no variables or secrets set: shipyard config set {environment} NAME=VALUE")
    if running is not None and running < active:
        out.print(
            f"[yellow]stale:[/] instances run version {running}; 'shipyard restart {environment}'"
        )
    for v in pending:
        out.print(
            f"change request v{v.version} by {escape(v.created_by)} waits for approval: "
            f"shipyard config diff {environment} {v.version}"
        )


def _read_values(names: list[str], from_file: Path | None) -> list[str]:
    if from_file is not None:
        if len(names) != 1:
            raise ShipyardError("--from-file gives the value of one variable")
        try:
            text = from_file.read_text(encoding="utf-8")[: MAX_INPUT + 1]
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not a text file"
            raise ShipyardError(f"cannot read {from_file}: {why}") from None
        return [text.removesuffix("\n")]
    if sys.stdin.isatty():
        raise ShipyardError(
            "pipe the secret values on stdin (one line per name) or use --from-file"
        )
    text = sys.stdin.read(MAX_INPUT + 1)
    if len(names) == 1:
        return [text.removesuffix("\n")]
    lines = text.splitlines()
    if len(lines) != len(names):
        raise ShipyardError(f"stdin has {len(lines)} lines for {len(names)} names: one per name")
    return lines


def _changes(pairs: list[str], secret: bool, ref: bool, from_file: Path | None) -> list[Any]:
    from shipyard.services.config_changes import Change

    if secret:
        if any("=" in p for p in pairs):
            raise ShipyardError(
                "secret values are never taken from the command line (shell history): "
                "give the names, and the values on stdin or with --from-file"
            )
        return [
            Change(n, "secret", v)
            for n, v in zip(pairs, _read_values(pairs, from_file), strict=True)
        ]
    if from_file is not None:
        raise ShipyardError("--from-file is for --secret values")
    out = []
    for p in pairs:
        name, eq, value = p.partition("=")
        if not eq:
            raise ShipyardError(f"{p!r}: write NAME=VALUE (or use --secret)")
        out.append(Change(name, "ref" if ref else "plain", value))
    return out


def _said(environment: str, done: Any) -> None:
    if done.active:
        console().print(f"[green]✓[/] {environment}: config version {done.version} is active")
    else:
        console().print(
            f"{environment}: change request v{done.version} waits for another person's "
            f"approval: shipyard config diff {environment} {done.version}; "
            f"shipyard config approve {environment} {done.version}"
        )


def set_(
    environment: Env,
    pairs: Annotated[list[str], typer.Argument(metavar="NAME=VALUE... | NAME...")],
    secret: Annotated[
        bool, typer.Option("--secret", help="Secrets: NAMEs only; values on stdin or --from-file.")
    ] = False,
    from_file: Annotated[
        Path | None, typer.Option("--from-file", metavar="PATH", help="The one secret's value.")
    ] = None,
    ref: Annotated[
        bool, typer.Option("--ref", help="NAME=env:VAR or NAME=file:/PATH, resolved at start.")
    ] = False,
    cas: Cas = None,
) -> None:
    """Change variables of ENV: a new version, active once approved where that is needed."""
    _said(environment, _propose(environment, _changes(pairs, secret, ref, from_file), cas))


def _propose(environment: str, changes: list[Any], cas: int | None) -> Any:
    from shipyard.services.config_changes import propose

    if (server := remote()) is not None:
        return rc.propose(server, environment, changes, cas)
    with session() as ctx:
        return propose(ctx, environment, changes, cas=cas)


def unset(
    environment: Env,
    names: Annotated[list[str], typer.Argument(metavar="NAME...")],
    cas: Cas = None,
) -> None:
    """Remove variables of ENV: a new version, active once approved where that is needed."""
    from shipyard.services.config_changes import Change

    _said(environment, _propose(environment, [Change(n, "unset") for n in names], cas))


def diff(environment: Env, version: Version) -> None:
    """What config VERSION of ENV changes (secret values masked, marked "changed")."""
    from rich.markup import escape

    from shipyard.services.config_changes import diff as do_diff

    if (server := remote()) is not None:
        base, lines = rc.diff(server, environment, version)
    else:
        with session() as ctx:
            base, lines = do_diff(ctx, environment, version)
    out = console()
    out.print(f"{environment}: config version {version} against version {base}")
    marks = {"added": "[green]+[/]", "removed": "[red]-[/]", "changed": "[yellow]~[/]"}
    for d in lines:
        old, new = escape(d.old or ""), escape(d.new or "")
        text = {"added": new, "removed": old, "changed": f"{old} -> {new}"}[d.change]
        out.print(f"  {marks[d.change]} {d.name}  {text}  ({d.change})")
    if not lines:
        out.print("  no changes")


def approve(environment: Env, version: Version) -> None:
    """Approve another person's change request: it becomes the active version."""
    from shipyard.services.config_changes import approve as do_approve

    if (server := remote()) is not None:
        rc.decide(server, environment, version, None)
    else:
        with session() as ctx:
            do_approve(ctx, environment, version)
    console().print(f"[green]✓[/] {environment}: config version {version} is active")


def reject(
    environment: Env,
    version: Version,
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why.")],
) -> None:
    """Reject a change request."""
    from shipyard.services.config_changes import reject as do_reject

    if (server := remote()) is not None:
        if not reason.strip():
            raise ShipyardError("say why (--reason)")
        rc.decide(server, environment, version, reason)
    else:
        with session() as ctx:
            do_reject(ctx, environment, version, reason)
    console().print(f"{environment}: config version {version} rejected")


def get(environment: Env, name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Print one value of ENV; needs your own approved grant; audited."""
    from shipyard.services.grants import read

    if (server := remote()) is not None:
        value = rc.read(server, environment, name)
    else:
        with session() as ctx:
            value = read(ctx, environment, name)
    sys.stdout.write(value + "\n")


def grant_request(
    environment: Env,
    for_: Annotated[str, typer.Option("--for", metavar="DURATION", help="e.g. 15m, 1h.")],
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why you need access.")],
) -> None:
    """Ask for time-bound access to ENV's values; another person approves it."""
    from shipyard.services.grants import parse_duration, request

    seconds = parse_duration(for_)
    if (server := remote()) is not None:
        grant = rc.grant_request(server, environment, for_, reason)
    else:
        with session() as ctx:
            grant = request(ctx, environment, seconds, reason)
    console().print(
        f"grant #{grant} on {environment} waits for another person: shipyard grant approve {grant}"
    )


def grant_approve(grant: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Approve another person's grant; its clock starts now."""
    from shipyard.cli.output import when
    from shipyard.services.grants import decide

    if (server := remote()) is not None:
        row = rc.grant_decide(server, grant, True, "")
    else:
        with session() as ctx:
            row = decide(ctx, grant, approve=True)
    console().print(f"[green]✓[/] grant #{grant} for {row.user} until {when(row.expires_at)} UTC")


def grant_reject(
    grant: Annotated[int, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why.")] = "",
) -> None:
    """Reject a grant request."""
    from shipyard.services.grants import decide

    if (server := remote()) is not None:
        rc.grant_decide(server, grant, False, reason)
    else:
        with session() as ctx:
            decide(ctx, grant, approve=False, reason=reason)
    console().print(f"grant #{grant} rejected")


def grant_list(environment: Annotated[str | None, typer.Argument(metavar="[ENV]")] = None) -> None:
    """Grants, newest first."""
    from rich.markup import escape

    from shipyard.cli.output import _table, when
    from shipyard.services.grants import grants_of

    if (server := remote()) is not None:
        rows = rc.grants(server, environment)
    else:
        with session() as ctx:
            rows = grants_of(ctx, environment)
    if not rows:
        where = f" for {environment}" if environment else ""
        console().print(
            f"no grants{where}: 'shipyard grant request {environment or 'ENV'} --for 15m"
            " --reason ...' asks for one",
            markup=False,
        )
        return
    t = _table("Grant", "Env", "User", "State", "Seconds", "Approved by", "Expires", "Reason")
    for g, env in rows:
        t.add_row(
            f"#{g.id}",
            env,
            escape(g.user),
            g.state,
            str(g.seconds),
            escape(g.decided_by or "-"),
            when(g.expires_at),
            escape(g.reason),
        )
    console().print(t)


def rotate_key() -> None:
    """A new encryption key; every secret sealed again with it (admins)."""
    from shipyard.services.secret_keys import rotate_key as do_rotate

    with session() as ctx:
        r = do_rotate(ctx)
    retired = ", ".join(r.retired) or "none"
    console().print(
        f"[green]✓[/] secrets sealed with key {r.key_id}: {r.resealed} values; retired keys: {retired}"
    )
