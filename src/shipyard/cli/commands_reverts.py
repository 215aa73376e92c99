"""When things go wrong: ``shipyard revert``, ``rerevert`` and ``hotfix``.

``shipyard.cli.app`` registers them. Each works locally, or through the server when
``SHIPYARD_URL`` is set.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shipyard.cli.common import console, remote, session


def revert(
    targets: Annotated[
        list[str], typer.Argument(metavar="PR|SHA...", help="PR numbers (12 or #12) or SHAs.")
    ],
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why (required).")] = "",
) -> None:
    """Revert merged changes on a new branch (a PR with a forge); a re-revert is then owed."""
    from shipyard.services.reverts import revert as do_revert

    if (server := remote()) is not None:
        done = server.call(
            "POST", server.at("/reverts"), json={"targets": targets, "reason": reason}
        )
    else:
        with session() as ctx:
            done = _prepared(do_revert(ctx, targets, reason))
    _print(done, "reverted")


def rerevert(
    target: Annotated[str, typer.Argument(metavar="PR|SHA", help="The reverted change.")],
) -> None:
    """Prepare the re-revert of a reverted change: a branch (a PR with a forge)."""
    from shipyard.services.reverts import rerevert as do_rerevert

    if (server := remote()) is not None:
        done = server.call("POST", server.at("/rereverts"), json={"target": target})
    else:
        with session() as ctx:
            done = _prepared(do_rerevert(ctx, target))
    _print(done, "re-revert prepared")


def hotfix(
    ref: Annotated[str, typer.Argument(metavar="REF", help="A commit that ran on stage.")],
    date: Annotated[
        str | None,
        typer.Option("--date", metavar="YYYY-MM-DD", help="The day to name it after."),
    ] = None,
) -> None:
    """Cut a hotfix release YYYY.MM.DD.N on a commit that ran on stage; deploy it as usual."""
    from shipyard.cli.output import parse_date
    from shipyard.services.hotfix import cut_hotfix

    on = parse_date(date) if date else None
    if (server := remote()) is not None:
        cut = server.call(
            "POST",
            server.at("/hotfixes"),
            json={"ref": ref, "date": on.isoformat() if on else None},
        )
        message, notes_md = cut["message"], cut["notes_markdown"]
    else:
        with session() as ctx:
            result = cut_hotfix(ctx, ref, on=on)
        message, notes_md = result.message, result.release.notes_markdown
    console().print(f"[green]✓[/] {message}\n")
    console().print(notes_md, markup=False, highlight=False)


def _prepared(p: Any) -> dict[str, Any]:
    return {
        "branch": p.branch,
        "commits": p.commits,
        "pr": p.pr,
        "url": p.url,
        "changes": [f"#{o.pr}" if o.pr is not None else o.sha[:10] for o in p.owed],
    }


def _print(done: dict[str, Any], what: str) -> None:
    from rich.markup import escape

    c = console()
    where = f"PR #{done['pr']} {done['url']}" if done.get("pr") else f"branch {done['branch']}"
    if done.get("changes"):
        c.print(f"[green]✓[/] {escape(', '.join(done['changes']))} {what} in {escape(where)}")
        c.print("  a re-revert is owed until the change is back on main ('shipyard status')")
    else:
        c.print(f"[green]✓[/] {what} in {escape(where)}")
