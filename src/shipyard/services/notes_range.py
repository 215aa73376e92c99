"""The range ``shipyard notes`` reads, and its log started ahead of the code that parses it.

Imports only the errors and the git adapter's ``ahead`` (no ``pathlib``, no ``typing``),
so that a command can call :func:`split_range` and :func:`start_range_log` first thing:
git then lists the range while Python loads the notes' code, and ``render_range`` reads
that very process.
"""

from __future__ import annotations

import os

from shipyard.adapters.git.ahead import range_revisions, start_log, start_merge_list
from shipyard.errors import GitError


def split_range(rng: str) -> tuple[str | None, str]:
    """``"A..B"`` -> ``("A", "B")``; ``"B"`` -> ``(None, "B")``; an empty side means HEAD."""
    if "..." in rng or rng.count("..") > 1:
        raise GitError(f"unsupported range {rng!r}: use A..B")
    since, sep, until = rng.partition("..")
    if not sep:
        return None, rng.strip() or "HEAD"
    return since.strip() or "HEAD", until.strip() or "HEAD"


def start_range_log(repo_path: str | os.PathLike[str], rng: str) -> None:
    """Start the log ``render_range(repo_path, rng)`` will read and the list of its
    merges, for an ``A..B`` range
    (``B`` alone first looks for the release before it); a bad range is left for
    ``render_range`` to report."""
    try:
        since, until = split_range(rng)
    except GitError:
        return
    if since is not None:
        from pathlib import Path  # not before: ``cli.notes.start_early`` runs ahead of it

        path, revisions = str(Path(repo_path)), range_revisions(since, until)
        start_log(path, revisions)
        start_merge_list(path, revisions)  # whose merged branches' authors it credits
