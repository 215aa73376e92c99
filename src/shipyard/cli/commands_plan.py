"""``shipyard plan ENV``: the stage fixes when what stage runs cannot go to ENV for QA.

Without options it shows both ways out; ``--release`` takes the earlier verified
commit (cutting its pre-release when it has none, ``--deploy`` deploying it through
every gate), ``--revert`` makes the reverts on a branch. ``shipyard.cli.app``
registers it.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from shipyard.cli.common import console, remote, session
from shipyard.errors import ShipyardError


def plan(
    environment: Annotated[str, typer.Argument(metavar="ENV", help="Where to go, e.g. prod.")],
    release: Annotated[
        bool,
        typer.Option("--release", help="Release the newest fully verified commit stage ran."),
    ] = False,
    revert: Annotated[
        bool,
        typer.Option(
            "--revert",
            help="Revert the changes naming unverified tickets, on a branch; re-reverts are owed.",
        ),
    ] = False,
    deploy: Annotated[
        bool, typer.Option("--deploy", help="With --release: deploy the release to ENV too.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deploying.")] = False,
    date: Annotated[
        str | None,
        typer.Option("--date", metavar="YYYY-MM-DD", help="With --release: the day to name it."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False,
) -> None:
    """Show the ways out when stage's tickets are not all verified for ENV: release an
    earlier verified commit (--release), or revert the unverified changes (--revert)."""
    from shipyard.cli.output import parse_date

    if release and revert:
        raise ShipyardError("--release and --revert are two different ways out: pick one")
    if deploy and not release:
        raise ShipyardError("--deploy goes with --release")
    if deploy and json_ and not yes:
        raise ShipyardError("--json --deploy needs --yes: there is no prompt in JSON mode")
    on = parse_date(date) if date else None
    if (server := remote()) is not None:
        if deploy and not yes:
            raise ShipyardError("a remote deploy needs --yes")
        out = _remote(server, environment, release, revert, deploy, on)
    else:
        with session(quiet=json_) as ctx:
            out = _local(ctx, environment, release, revert, (deploy, yes, json_), on)
    _show(out, json_, "release" if release else "revert" if revert else "plan")


def _local(
    ctx: Any, env: str, release: bool, revert: bool, deploying: tuple[bool, bool, bool], on: Any
) -> Any:
    from shipyard.services.deploy.fix_actions import (
        release_dict,
        release_earlier,
        revert_dict,
        revert_unverified,
    )
    from shipyard.services.deploy.fixes import as_dict, plan_fixes

    if release:
        r = release_earlier(ctx, env, on=on)
        out = release_dict(r)
        deploy, yes, quiet = deploying
        if deploy:
            out["deployment"] = _deploy(ctx, env, r.tag, yes, quiet)
        return out
    if revert:
        return revert_dict(*revert_unverified(ctx, env))
    return as_dict(plan_fixes(ctx, env))


def _deploy(ctx: Any, env: str, tag: str, yes: bool, quiet: bool) -> dict[str, Any]:
    from shipyard.cli.output import confirm_plan, print_plan
    from shipyard.services.deploy import execution, planning

    p = planning.plan(ctx, env, tag)
    if not yes and p.refusal is None:
        confirm_plan(p)
    elif not quiet:
        print_plan(p)
    d = execution.execute(ctx, p)
    return {"id": d.id, "ref": d.ref, "commit": d.commit, "tag": d.tag}


def _remote(server: Any, env: str, release: bool, revert: bool, deploy: bool, on: Any) -> Any:
    at = server.at(f"/environments/{env}/plan")
    if release:
        body = {"deploy": deploy, "date": on.isoformat() if on else None}
        return server.call("POST", at + "/release", json=body, timeout=900)
    if revert:
        return server.call("POST", at + "/revert", json={}, timeout=300)
    return server.call("GET", at)


def _show(out: dict[str, Any], as_json: bool, what: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    from rich.markup import escape

    c = console()
    if what == "plan":
        from shipyard.cli.plan_output import print_fix_plan

        print_fix_plan(out)
    elif what == "release":
        done = "cut" if out["cut"] else "already there"
        n = len(out["leaves"])
        c.print(
            f"[green]✓[/] release {out['tag']} on {out['commit'][:7]} ({done}); "
            f"leaves {n} change{'s' if n != 1 else ''} behind"
        )
        if out["deployment"]:
            d = out["deployment"]
            c.print(
                f"[green]✓[/] {out['environment']} runs {d['ref']}, tagged {d['tag']}: deployment #{d['id']}"
            )
        else:
            c.print(f"deploy it with: {out['deploy_command']}")
    else:
        refs = ", ".join(ch["ref"] for ch in out["reverted"])
        where = f"branch {out['branch']}"
        if out.get("pr"):
            where = f"PR #{out['pr']} {out['url']} ({where})"
        c.print(
            f"[green]✓[/] {escape(where)} reverts {escape(refs)} on top of {out['start'][:7]} "
            f"(head {out['head'][:7]})\n"
            f"merge it into main keeping its commits (rebase or fast-forward), "
            f"so stage and the QA gate see each revert\n"
            f"a re-revert is owed for each until it is back on main ('shipyard status')"
        )
