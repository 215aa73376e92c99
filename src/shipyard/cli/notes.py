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
    start_early(rng)
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


def start_early(rng: str) -> None:
    """Start ``rng``'s log (and its merge list) in the repository ``shipyard.toml`` most
    likely names, before the config's parser, ``pathlib`` or ``typing`` are imported.

    A guess, made with ``os`` alone from the file's lines: ``[app] repo``'s plain
    quoted value, else ``.``. A wrong guess costs one git process nobody reads, never a
    wrong answer: ``print_notes`` reads a log started ahead only if it is exactly the
    one it would start (``ahead.take``), in the repository the parsed config names.
    """
    import os

    from shipyard.adapters.git.ahead import range_revisions, start_log, start_merge_list
    from shipyard.errors import GitError
    from shipyard.services.notes_range import split_range

    try:
        since, until = split_range(rng)
    except GitError:  # ``print_notes`` says what is wrong with it
        return
    if since is None:  # B alone looks for its release first
        return
    found = _config_file(os.environ.get("SHIPYARD_CONFIG"))
    if found is None:
        return
    directory, file = found
    try:
        with open(file, encoding="utf-8") as f:
            repo = _app_repo(f.read())
    except (OSError, UnicodeDecodeError):
        return
    if repo is not None:
        path = os.path.realpath(os.path.join(directory, repo))
        revisions = range_revisions(since, until)
        start_log(path, revisions)
        start_merge_list(path, revisions)


def _config_file(named: str | None) -> tuple[str, str] | None:
    """The file ``config.quick.read_config`` reads (``SHIPYARD_CONFIG``, else the nearest
    ``shipyard.toml`` at or above the working directory), and its directory resolved,
    which ``[app] repo`` is relative to."""
    import os

    if named:
        return os.path.realpath(os.path.dirname(named) or "."), named
    here = os.path.realpath(os.getcwd())
    while True:
        if os.path.isfile(candidate := os.path.join(here, "shipyard.toml")):
            return here, candidate
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _app_repo(text: str) -> str | None:
    """``[app] repo`` when it is a plain quoted string (``.`` when the table has none);
    None for anything a line cannot say for sure."""
    table = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            table = line[1 : line.find("]")].strip() if "]" in line else ""
        elif table == "app" and line.partition("=")[0].strip() == "repo":
            value = line.partition("=")[2].strip()
            quote = value[:1]
            end = value.find(quote, 1) if quote in ('"', "'") else -1
            rest = value[end + 1 :].strip() if end > 0 else "#"
            if end > 0 and "\\" not in value[:end] and (not rest or rest.startswith("#")):
                return value[1:end]
            return None
    return "."
