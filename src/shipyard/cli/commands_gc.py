"""``shipyard gc`` (collect old artifacts by the retention policy) and ``shipyard rebuild``.

``shipyard.cli.app`` registers them; with ``SHIPYARD_URL`` set they drive the server.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli.common import console, remote, session


def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be removed and kept, and why.")
    ] = False,
) -> None:
    """Remove old builds' artifacts by [artifacts] keep / keep_days; never what an
    environment runs, what a rollback returns to, or what a release points at."""
    from rich.markup import escape

    from shipyard.cli.output import _table
    from shipyard.services.gc import GcReport, collect

    if (server := remote()) is not None:
        answer = server.call("POST", server.at("/gc"), params={"dry_run": dry_run})
        report = GcReport.from_dict(answer)
    else:
        with session() as ctx:
            report = collect(ctx, dry_run=dry_run)
    c = console()
    if report.note:
        c.print(f"nothing collected: {escape(report.note)}")
        return
    if not report.verdicts:
        c.print("no artifacts to look at")
        return
    t = _table("Build", "Commit", "Artifact", "Why")
    for v in report.verdicts:
        action = ("would remove" if dry_run else "removed") if v.remove else "kept"
        t.add_row(f"#{v.build_id}", v.short_sha, action, escape(v.why))
    c.print(t)
    n = len(report.removed)
    if dry_run:
        c.print(f"dry run: {n} artifact{'s' * (n != 1)} would be removed")
    else:
        mb = report.bytes / 1e6
        c.print(
            f"removed {n} artifact{'s' * (n != 1)}; freed {report.files} stored files ({mb:.1f} MB)"
        )


def rebuild(
    ref: Annotated[str, typer.Argument(metavar="SHA", help="The build's commit (or a prefix).")],
) -> None:
    """Make the artifact of a build that gc collected again from its commit."""
    from shipyard.services.gc import rebuild as do_rebuild

    if (server := remote()) is not None:
        from urllib.parse import quote

        answer = server.call("POST", server.at(f"/builds/{quote(ref, safe='')}/rebuild"))
        short, digest = answer["commit"], answer["digest"]
    else:
        with session() as ctx:
            b = do_rebuild(ctx, ref)
            short, digest = b.short_sha, b.artifact_digest
    console().print(f"[green]✓[/] {short} has its artifact again ({digest})")
