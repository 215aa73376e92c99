"""``shipyard notes``: kept apart so that it imports only what it needs.

The notes of a range need the config (prefixes, excluded authors, groups), git,
and, when the app has a database, the QA status of each ticket. A SQLite
database is read with the standard library's driver; other databases go
through the store. With ``[forge] kind = "github"`` the store is opened too: the
forge describes the PRs and keeps what it read in the database.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not ``typing``'s: the quick path imports nothing it does not need
if TYPE_CHECKING:
    from typing import Literal

    Format = Literal["markdown", "json"]


def fast_args(args: list[str]) -> tuple[str, Format] | None:
    """``RANGE`` and ``--json`` in any order; None for anything else (help, typos)."""
    rest = [a for a in args if a != "--json"]
    if len(rest) != 1 or rest[0].startswith("-") or len(args) - len(rest) > 1:
        return None
    return rest[0], "json" if "--json" in args else "markdown"


def run_fast(rng: str, fmt: Format) -> None:
    from shipyard.errors import ShipyardError

    try:
        print_notes(rng, fmt, ahead=True)
    except ShipyardError as exc:
        from shipyard.cli.output import error

        error(exc.message)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def print_notes(rng: str, fmt: Format, *, ahead: bool = False) -> None:
    """Print the notes of ``rng``; ``ahead``: start its git log before loading the rest."""
    from shipyard.config.quick import notes_settings, peek_repo, read_config

    path, data = read_config()
    if ahead and (repo := peek_repo(path, data)) is not None:
        from shipyard.services.notes_range import start_range_log

        start_range_log(repo, rng)  # git lists the range while the rest loads
    from shipyard.services.notes import render_configured
    from shipyard.store.quick import ticket_labels

    # Only the sections the notes read, unless a [forge] needs the whole configuration.
    quick = notes_settings(path, data)
    if quick is not None:
        statuses = ticket_labels(quick.database_url, quick.app.name)
        text = render_configured(quick, rng, statuses=statuses, fmt=fmt)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from shipyard.config import load

    settings = load()
    statuses = ticket_labels(settings.database_url, settings.app.name)
    if settings.forge.kind == "git":  # no forge: no database opened, nothing sent
        text = render_configured(settings, rng, statuses=statuses, fmt=fmt)
    else:
        from shipyard.cli.output import RichReporter
        from shipyard.services.context import open_context
        from shipyard.services.notes import render_for

        # The forge keeps what it read in the database; its warnings go to stderr.
        ctx = open_context(settings, reporter=RichReporter(quiet=True))
        try:
            text = render_for(ctx, rng, statuses=statuses, fmt=fmt)
        finally:
            ctx.close()
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
