"""The train's commands: build main, cut pre-releases, and QA their tickets.

``shipyard sync``, ``up``, ``down``, ``prerelease``, ``releases``, ``notes``,
``tickets`` and ``shipyard qa verify|reject``; ``shipyard.cli.app`` registers them.
"""

from __future__ import annotations

import sys
from typing import Annotated, Literal

import typer

from shipyard.cli.common import console, remote, session
from shipyard.errors import ShipyardError


def sync(
    no_deploy: Annotated[
        bool, typer.Option("--no-deploy", help="Build only; do not move automatic environments.")
    ] = False,
) -> None:
    """Build new commits of main and move automatic environments to the newest green build.

    Exits 4 when a deployment it started failed (the environment keeps its version)."""
    from shipyard.cli.deploys import sync as run

    run(no_deploy=no_deploy)


def up() -> None:
    """Bring every environment back at its recorded version (after a reboot, say)."""
    from shipyard.services.runtime import bring_up

    with session() as ctx:
        for line in bring_up(ctx):
            console().print(line)


def down() -> None:
    """Stop every environment's instances (their versions stay recorded)."""
    from shipyard.services.runtime import bring_down

    with session() as ctx:
        for line in bring_down(ctx):
            console().print(line)


def prerelease(
    date: Annotated[
        str | None,
        typer.Option("--date", metavar="YYYY-MM-DD", help="The day to name it after, YYYY-MM-DD."),
    ] = None,
) -> None:
    """Cut today's pre-release on what stage runs: tag YYYY.MM.DD (.N when taken)."""
    from shipyard.cli.output import parse_date
    from shipyard.services.releases import cut_prerelease

    on = parse_date(date) if date else None
    if (server := remote()) is not None:
        cut = server.call(
            "POST", server.at("/prereleases"), json={"date": on.isoformat() if on else None}
        )
        message, tag = cut["message"], cut["tag"]
        notes_md = server.releases(1)[0].release.notes_markdown if tag else ""
    else:
        with session() as ctx:
            result = cut_prerelease(ctx, on=on)
        message, tag = result.message, result.release.tag if result.release else None
        notes_md = result.release.notes_markdown if result.release else ""
    if tag is None:
        console().print(message)
        return
    console().print(f"[green]✓[/] {message}\n")
    console().print(notes_md, markup=False, highlight=False)


def releases(
    limit: Annotated[int, typer.Option(metavar="N", help="How many to list.")] = 30,
) -> None:
    """List releases: pre-release or latest, and where each one runs."""
    from shipyard.cli.reads import releases as run

    run(limit)


def notes(
    range_: Annotated[
        str, typer.Argument(metavar="RANGE", help="A..B, or B for everything up to B.")
    ],
    json_: Annotated[bool, typer.Option("--json", help="JSON instead of Markdown.")] = False,
) -> None:
    """Print the release notes of a range of main as Markdown (or JSON)."""
    from shipyard.cli.notes import print_notes

    fmt: Literal["json", "markdown"] = "json" if json_ else "markdown"
    if (server := remote()) is not None:
        import json

        answer = server.call("GET", server.at("/notes"), params={"range": range_, "format": "json"})
        if fmt == "json":
            sys.stdout.write(json.dumps(answer, indent=2) + "\n")
        else:
            sys.stdout.write(
                server.text(server.at("/notes"), {"range": range_, "format": "markdown"})
            )
        return
    print_notes(range_, fmt)


def qa_verify(keys: Annotated[list[str], typer.Argument(metavar="KEY...")]) -> None:
    """Mark tickets as QA-verified: any key main names, in any case (mntor-12 is MNTOR-12)."""
    from shipyard.cli.qa import verify

    verify(keys)


def qa_reject(
    key: Annotated[str, typer.Argument(metavar="KEY")],
    reason: Annotated[str, typer.Option(metavar="TEXT", help="What is wrong (required).")],
) -> None:
    """Reject a ticket, saying why."""
    from shipyard.adapters.tracker.builtin import REJECTED
    from shipyard.services.tickets import set_status

    if not reason.strip():
        raise ShipyardError("--reason must say what is wrong")
    if (server := remote()) is not None:
        done = server.call("POST", server.at(f"/tickets/{key}/reject"), json={"reason": reason})
        key, by = done["key"], done["updated_by"]
    else:
        with session() as ctx:
            (t,) = set_status(ctx, [key], REJECTED, reason=reason)
        key, by = t.key, t.updated_by
    console().print(f"[red]✗[/] {key} rejected by {by}: {reason}")


def tickets(
    status: Annotated[
        str | None,
        typer.Option(metavar="STATUS", help="merged, verified, rejected or promoted."),
    ] = None,
) -> None:
    """List tickets and their QA status."""
    from shipyard.cli.reads import tickets as run

    run(status)
