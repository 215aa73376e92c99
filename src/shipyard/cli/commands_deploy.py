"""The deploy commands: compare, deploy, roll back, and look at what runs.

``shipyard diff``, ``deploy``, ``rollback``, ``unpin``, ``restart``, ``status``, ``history``,
``builds`` and ``logs``; ``shipyard.cli.app`` registers them.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from shipyard.cli.common import console, remote, session
from shipyard.errors import ShipyardError


def diff(
    target: Annotated[str, typer.Argument(help="The environment to compare, e.g. prod.")],
    source: Annotated[str, typer.Argument(help="What it would catch up with, e.g. stage.")],
) -> None:
    """Show what SOURCE runs that TARGET does not: changes, tickets, QA status."""
    from shipyard.cli.reads import diff as run

    run(target, source)


def deploy(
    environment: Annotated[str, typer.Argument(metavar="ENV")],
    ref: Annotated[
        str, typer.Argument(metavar="REF", help="A release tag (2024.09.01) or a short SHA.")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    allow_unverified: Annotated[
        bool,
        typer.Option(
            "--allow-unverified", help="Deploy despite unverified tickets (needs --reason)."
        ),
    ] = False,
    reason: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Why; recorded with the deployment.")
    ] = None,
    override_freeze: Annotated[
        bool,
        typer.Option(
            "--override-freeze", help="Deploy during a freeze (an admin only; needs --reason)."
        ),
    ] = False,
    queue_timeout: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            help="Seconds to wait while the environment is busy (0: do not wait).",
        ),
    ] = 600.0,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait", help="ENV needs approvals: return at once, saying how to approve."
        ),
    ] = False,
    approval_timeout: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            help="ENV needs approvals: how long to wait for them here (then they run it).",
        ),
    ] = 600.0,
) -> None:
    """The 1-click deploy: check every gate, tag ENV-REF, roll out, verify.

    Where ENV needs approvals, the deploy waits for them (or returns with --no-wait);
    the last approval runs it."""
    from shipyard.cli.deploys import deploy as run

    run(
        environment,
        ref,
        yes=yes,
        allow_unverified=allow_unverified,
        reason=reason,
        override_freeze=override_freeze,
        queue_timeout=queue_timeout,
        no_wait=no_wait,
        approval_timeout=approval_timeout,
    )


def rollback(
    environment: Annotated[str, typer.Argument(metavar="ENV")],
    reason: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="Why (required); recorded with the deployment."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Redeploy ENV's previous successful deployment, and pin ENV there.

    Lists the changes and tickets it takes out; tickets leave "promoted to ENV"."""
    from shipyard.cli.deploys import rollback as run

    run(environment, reason=reason, yes=yes)


def unpin(environment: Annotated[str, typer.Argument(metavar="ENV")]) -> None:
    """Let automation move ENV again after a rollback."""
    from shipyard.services.deploy.follow import unpin as do_unpin

    if (server := remote()) is not None:
        changed = server.call("POST", server.at(f"/environments/{environment}/unpin"))["unpinned"]
    else:
        with session() as ctx:
            changed = do_unpin(ctx, environment)
    console().print(f"{environment} unpinned" if changed else f"{environment} was not pinned")


def restart(environment: Annotated[str, typer.Argument(metavar="ENV")]) -> None:
    """Restart what ENV serves, same version: new processes (local) or pods (GitOps)."""
    from shipyard.services.restart import restart as do_restart

    if (server := remote()) is not None:
        done = server.call("POST", server.at(f"/environments/{environment}/restart"))
        ref, commit = done["ref"], done["commit"]
    else:
        with session() as ctx:
            r = do_restart(ctx, environment)
            ref, commit = r.ref, r.commit
    console().print(f"[green]✓[/] {environment} restarted: {ref} ({commit[:7]})")


def status() -> None:
    """Per environment: what runs, since when, by whom, health, and what waits upstream."""
    from shipyard.cli.reads import status as run

    run()


def history(
    environment: Annotated[str, typer.Argument(metavar="ENV")],
    limit: Annotated[int, typer.Option(metavar="N", help="How many to list.")] = 30,
) -> None:
    """List an environment's deployments, newest first."""
    from shipyard.cli.reads import history as run

    run(environment, limit)


def builds(limit: Annotated[int, typer.Option(metavar="N", help="How many to list.")] = 20) -> None:
    """Recent builds of main with their checks and where each runs."""
    from shipyard.cli.output import builds_table
    from shipyard.cli.reads import checked_limit
    from shipyard.services.views import builds as do_builds

    limit = checked_limit(limit)
    if (server := remote()) is not None:
        rows = server.builds(limit)
    else:
        with session() as ctx:
            rows = do_builds(ctx, limit)
    if not rows:
        console().print("no builds yet: 'shipyard sync' reads main")
        return
    console().print(builds_table(rows))


def logs(
    target: Annotated[
        str,
        typer.Argument(
            metavar="ENV|SHA",
            help="An environment: its instance's output. A build's SHA, with CHECK: that check's log.",
        ),
    ],
    check: Annotated[
        str | None,
        typer.Argument(metavar="CHECK", help="With a build's SHA: the check whose log to print."),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep printing what the instance writes, until Ctrl-C."
        ),
    ] = False,
    lines: Annotated[
        int,
        typer.Option(
            "--lines", "-n", metavar="N", help="How many of the last lines (at most 1000)."
        ),
    ] = 100,
    commit: Annotated[
        str | None,
        typer.Option(
            metavar="SHA",
            help="The newest instance of this commit (a failed deployment's) instead of the serving one.",
        ),
    ] = None,
) -> None:
    """Print an environment's instance log ('logs stage -f'), or one check's log of one
    build ('logs 1a2b3c4 unit')."""
    from shipyard.cli.logs import show
    from shipyard.cli.reads import checked_limit

    checked_limit(lines, "--lines", 1000)
    if check is not None:
        from shipyard.services.views import check_log

        with session() as ctx:
            c = check_log(ctx, target, check)
        sys.stdout.write(c.log)
        return
    if (server := remote()) is not None:
        at = server.at(f"/environments/{target}/log")
        params = {"lines": lines, **({"commit": commit} if commit else {})}
        show(
            lambda: server.instance_log(at, params),
            lambda name, offset: server.read_instance_log(at, name, offset),
            environment=target,
            follow=follow,
            pinned=commit is not None,
        )
        return
    from shipyard.services.runtime import instance_log, read_instance_log

    with session(quiet=True) as ctx:
        if target not in ctx.settings.environments:
            known = ", ".join(ctx.settings.environments)
            raise ShipyardError(
                f"{target!r} is not an environment (known: {known}); "
                f"a build's check log needs the check: 'shipyard logs {target} CHECK'"
            )
        show(
            lambda: instance_log(ctx, target, commit=commit, lines=lines),
            lambda name, offset: read_instance_log(ctx, target, name, offset),
            environment=target,
            follow=follow,
            pinned=commit is not None,
        )
