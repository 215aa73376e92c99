"""``shipyard freeze`` (list, ``start``, ``end``) and ``shipyard e2e``.

``shipyard.cli.app`` registers them; with ``SHIPYARD_URL`` set they drive the server.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from shipyard.cli.common import console, remote, session

EnvOption = Annotated[
    str | None,
    typer.Option("--env", metavar="ENV", help="One environment (default: every one)."),
]


def freeze_list(ctx: typer.Context, env: EnvOption = None) -> None:
    """List the freezes on now and those coming (two weeks ahead)."""
    if ctx.invoked_subcommand is not None:
        return
    if (server := remote()) is not None:
        params = {"environment": env} if env else None
        found = server.call("GET", server.at("/freezes"), params=params)
        active, upcoming = found["active"], found["upcoming"]
    else:
        from shipyard.services.freezes import listing

        with session(quiet=True) as sctx:
            if env is not None:
                sctx.settings.environment(env)
            f = listing(sctx, env)
            active = [_row(w) for w in f.active]
            upcoming = [_row(w) for w in f.upcoming]
    _print(active, upcoming)


def _row(w: Any) -> dict[str, Any]:
    from shipyard.core.freezes import moment

    return {
        "name": w.name,
        "environments": list(w.environments),
        "reason": w.reason,
        "until": w.until,
        "from": moment(w.start, w.tz),
        "started_by": w.started_by,
    }


def _print(active: list[dict[str, Any]], upcoming: list[dict[str, Any]]) -> None:
    from rich.markup import escape

    c = console()
    if not active and not upcoming:
        c.print("no freeze now or in the next two weeks")
        return
    for label, rows in (("frozen now", active), ("coming", upcoming)):
        for r in rows:
            where = ", ".join(r["environments"]) or "all environments"
            when = (
                r["until"] if label == "frozen now" else f"from {r.get('from', '')}, {r['until']}"
            )
            why = f": {r['reason']}" if r.get("reason") else ""
            by = f" (by {r['started_by']})" if r.get("started_by") else ""
            c.print(escape(f"{label}: {r['name']} on {where}, {when}{why}{by}"))


def freeze_start(
    reason: Annotated[str | None, typer.Option(metavar="TEXT", help="Why (required).")] = None,
    env: EnvOption = None,
    for_: Annotated[
        str | None,
        typer.Option(
            "--for", metavar="DURATION", help='How long, e.g. "4h" (default: until ended).'
        ),
    ] = None,
) -> None:
    """Freeze deploys now, on one environment or all, until 'shipyard freeze end'."""
    from shipyard.errors import ShipyardError
    from shipyard.services.freezes import parse_for

    if not (reason or "").strip():
        raise ShipyardError('a freeze needs --reason "..." saying why')
    assert reason is not None
    seconds = parse_for(for_) if for_ is not None else None
    if (server := remote()) is not None:
        body = {"reason": reason, "environment": env, "for": for_}
        w = server.call("POST", server.at("/freezes"), json=body)
        name, until = w["name"], w["until"]
    else:
        from shipyard.services.freezes import start

        with session(quiet=True) as sctx:
            win = start(sctx, reason=reason, environment=env, duration=seconds)
            name, until = win.name, win.until
    console().print(f"[yellow]❄[/] {env or 'every environment'} frozen ({name}), {until}")


def freeze_end(
    env: EnvOption = None,
    number: Annotated[
        int | None, typer.Option("--id", metavar="N", help="End only the ad hoc freeze #N.")
    ] = None,
) -> None:
    """End the ad hoc freezes (those set in shipyard.toml end on their own)."""
    if (server := remote()) is not None:
        if number is not None:
            n = server.call("DELETE", server.at(f"/freezes/{number}"))["ended"]
        else:
            params = {"environment": env} if env else None
            n = server.call("DELETE", server.at("/freezes"), params=params)["ended"]
    else:
        from shipyard.services.freezes import end

        with session(quiet=True) as sctx:
            n = end(sctx, environment=env, freeze_id=number)
    console().print(f"ended {n} freeze{'s' if n != 1 else ''}")


def e2e(
    environment: Annotated[
        str, typer.Argument(metavar="ENV", help="The environment whose gate it is.")
    ],
    ref: Annotated[
        str | None,
        typer.Argument(
            metavar="REF", help="The commit its upstream runs (default: whatever it runs)."
        ),
    ] = None,
) -> None:
    """Run ENV's e2e command against its upstream environment and record the result."""
    from shipyard.errors import Refused

    if (server := remote()) is not None:
        body = {"ref": ref} if ref else None
        r = server.call("POST", server.at(f"/e2e/{environment}"), json=body, timeout=3600)
        run_id, status, commit, up = r["id"], r["status"], r["commit"], r["upstream"]
        log = f"log: {server.at(f'/e2e/runs/{run_id}/log')}\n"
    else:
        from shipyard.services.e2e import run

        with session() as sctx:
            row = run(sctx, environment, ref)
            run_id, status, commit, up, log = row.id, row.status, row.commit, row.upstream, row.log
    sys.stdout.write(log if log.endswith("\n") or not log else log + "\n")
    if status != "passed":
        raise Refused(f"E2E run #{run_id} of {commit[:7]} against {up} {status}")
    console().print(f"[green]✓[/] E2E run #{run_id} of {commit[:7]} against {up} passed")
