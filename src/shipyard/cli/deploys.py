"""The deploying commands' bodies: ``deploy``, ``rollback`` and ``sync``.

They live here, apart from Typer, so that ``shipyard.cli.main`` can run their plain
forms (see ``fast_command``) without importing Typer, which with its pydantic
coercion takes longer to load and to parse two arguments than the rest of a local
deploy's own work; the Typer commands in ``commands_deploy`` and ``commands_train``
call the same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shipyard.cli.common import console, remote, session
from shipyard.errors import ShipyardError


def deploy(
    environment: str,
    ref: str,
    *,
    yes: bool = False,
    allow_unverified: bool = False,
    reason: str | None = None,
    override_freeze: bool = False,
    queue_timeout: float = 600.0,
    no_wait: bool = False,
    approval_timeout: float = 600.0,
) -> None:
    """The 1-click deploy: check every gate, tag ENV-REF, roll out, verify."""
    from shipyard.cli.output import confirm_plan, print_plan
    from shipyard.core.tags import shown_ref

    for option, seconds in (
        ("--queue-timeout", queue_timeout),
        ("--approval-timeout", approval_timeout),
    ):
        if not seconds >= 0:  # NaN too
            raise ShipyardError(f"{option} must be 0 or more seconds, not {seconds:g}")

    wait = 0.0 if no_wait else max(approval_timeout, 0.0)
    if (server := remote()) is not None:
        from shipyard.cli.approvals import follow_remote

        body = {
            "environment": environment,
            "ref": ref,
            "allow_unverified": allow_unverified,
            "reason": reason,
            "queue_timeout": queue_timeout,
            "override_freeze": override_freeze,
        }
        p: Any = server.plan(body)
        if p.may_not:  # the deploy would be refused: say so before the plan, not after
            raise ShipyardError(p.may_not)
        if yes or p.refusal is not None:
            print_plan(p)
        else:
            confirm_plan(p)
        d: Any = server.deploy(body)
        if d.state == "awaiting_approval" and wait:
            d = follow_remote(server, d, environment, wait)
    else:
        from shipyard.services.deploy import execution, planning

        with session() as ctx:
            p = planning.plan(
                ctx,
                environment,
                ref,
                allow_unverified=allow_unverified,
                reason=reason,
                override_freeze=override_freeze,
            )
            if yes or p.refusal is not None:
                print_plan(p)
            else:
                confirm_plan(p)
            d = execution.execute(ctx, p, queue_timeout=queue_timeout, approval_wait=wait)
    if d.state == "awaiting_approval":
        from shipyard.cli.approvals import how_to_approve

        console().print(how_to_approve(d, environment), highlight=False, markup=False)
        return
    console().print(
        f"[green]✓[/] {environment} runs {shown_ref(p.ref, p.commit)}, tagged {d.tag}: "
        f"deployment #{d.id}"
    )


def rollback(environment: str, *, reason: str | None = None, yes: bool = False) -> None:
    """Redeploy ENV's previous successful deployment, and pin ENV there."""
    from shipyard.cli.output import confirm_plan, print_plan
    from shipyard.core.tags import shown_ref

    if (server := remote()) is not None:
        from types import SimpleNamespace

        if not (reason or "").strip():
            raise ShipyardError(f'a rollback of {environment} needs --reason "..." saying why')
        if not yes:
            raise ShipyardError("a remote rollback needs --yes")
        d: Any = server.rollback(environment, reason)
        p: Any = SimpleNamespace(ref=d.ref, short_sha=d.commit[:7], commit=d.commit)
    else:
        from shipyard.services.deploy import execution, planning

        with session() as ctx:
            p = planning.rollback_plan(ctx, environment, reason)
            if yes or p.refusal is not None:
                print_plan(p)
            else:
                confirm_plan(p)
            d = execution.execute(ctx, p)
    console().print(
        f"[green]✓[/] {environment} rolled back to {shown_ref(p.ref, p.commit)}: deployment #{d.id}; "
        f"pinned until 'shipyard unpin {environment}'"
    )


def sync(*, no_deploy: bool = False) -> None:
    """Build new commits of main and move automatic environments to the newest green build;
    DeployFailed (exit 4) when a deployment it started failed."""
    from types import SimpleNamespace

    from rich.markup import escape

    from shipyard.errors import DeployFailed
    from shipyard.services.builds import sync as do_sync

    if (server := remote()) is not None:
        answer = server.call("POST", server.at("/sync"), timeout=3600)
        result: Any = SimpleNamespace(**{"deploy_failed": {}, "held": {}, **answer})
    else:
        with session() as ctx:
            result = do_sync(ctx, deploy=not no_deploy)
    c = console()
    moved = result.deployed or result.deploy_failed
    if not (result.new_builds or result.passed or result.failed or moved):
        c.print("up to date: nothing new on main")
    for env, sha in result.deployed.items():
        c.print(f"[green]✓[/] {env} now runs {sha}")
    for env, why in result.held.items():
        c.print(f"[yellow]![/] {env}: {escape(why)}")
    if result.failed:
        c.print(f"[red]✗[/] failed builds: {', '.join(result.failed)} (see 'shipyard builds')")
    if (failed := DeployFailed.of(result.deploy_failed)) is not None:
        raise failed


def _collecting(func: Callable[..., None], **options: Any) -> None:
    """``func(**options)`` with the cyclic garbage collector on (the quick path turns it
    off): a sync may build and check many commits, for minutes."""
    import gc

    gc.enable()
    func(**options)


# name -> (function, its positional parameters)
_COMMANDS: dict[str, tuple[Callable[..., None], int]] = {
    "deploy": (deploy, 2),
    "rollback": (rollback, 1),
}


def fast_command(args: list[str]) -> Callable[[], None] | None:
    """The call for ``deploy ENV REF`` or ``rollback ENV`` with only ``--yes``/``-y`` and
    ``--reason TEXT``, and for ``sync`` or ``sync --no-deploy``; None for anything else.

    A prompt (no ``--yes``), ``--help``, any other option or a mistake goes through
    Typer, which asks and explains."""
    if args in (["sync"], ["sync", "--no-deploy"]):
        return lambda: _collecting(sync, no_deploy=len(args) == 2)
    if not args or args[0] not in _COMMANDS:
        return None
    func, npos = _COMMANDS[args[0]]
    positional: list[str] = []
    options: dict[str, Any] = {}
    rest = iter(args[1:])
    for arg in rest:
        if not arg.startswith("-"):
            positional.append(arg)
            continue
        if arg in ("--yes", "-y") and "yes" not in options:
            options["yes"] = True
            continue
        name, eq, value = arg.partition("=")
        if name != "--reason" or "reason" in options:
            return None
        value = value if eq else next(rest, "")
        if not value.strip() or (not eq and value.startswith("-")):
            return None
        options["reason"] = value
    if len(positional) != npos or not options.get("yes"):
        return None
    return lambda: func(*positional, **options)
