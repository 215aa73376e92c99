"""Release notes for a range of a repository's history: what ``shipyard notes`` prints.

Imports the standard library only, so the command starts fast.

    >>> print(render_range("/srv/app", "2024.09.01..2024.09.02", prefixes=["MNTOR"]))
    ... # doctest: +SKIP
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from shipyard.adapters.git.repo import GitRepo
from shipyard.core.changes import iter_changes
from shipyard.core.notes import DEFAULT_GROUPS, GroupRule, build_notes, render_json, render_markdown
from shipyard.core.tickets import DEFAULT_SOURCES, KeySources
from shipyard.services.notes_range import split_range

if TYPE_CHECKING:
    from shipyard.adapters.forge import Forge
    from shipyard.config import Settings
    from shipyard.config.quick import NotesSettings
    from shipyard.services.context import Context

NotesFormat = Literal["markdown", "json"]


def previous_release(repo: GitRepo, until_sha: str) -> str | None:
    """The newest release tag reachable from ``until_sha`` that is not on that commit."""
    from shipyard.core.tags import latest_release_tag  # only for the one-ref form

    tags = repo.merged_tags(until_sha)
    while (tag := latest_release_tag(tags)) is not None:
        if repo.tag_target(tag) != until_sha:
            return tag
        tags.remove(tag)
    return None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the notes are built.

    A range makes a few acyclic objects per commit; the collector would scan the
    growing heap again and again to free nothing (a third of the run time on a
    44k-commit range). Nothing built inside may outlive the block but the result.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _to_stderr(message: str) -> None:
    sys.stderr.write(f"! {message}\n")


def render_range(
    repo_path: str | os.PathLike[str],
    rng: str,
    *,
    prefixes: Sequence[str],
    sources: KeySources = DEFAULT_SOURCES,
    exclude_authors: Sequence[str] = (),
    groups: Sequence[GroupRule] = DEFAULT_GROUPS,
    statuses: Mapping[str, str] | None = None,
    fmt: NotesFormat = "markdown",
    title: str | None = None,
    forge: Forge | None = None,
    warn: Callable[[str], None] | None = None,
) -> str:
    """Release notes for ``rng`` in the repository at ``repo_path``.

    ``rng`` is ``A..B`` (changes on B's first-parent chain since A) or ``B``
    alone, meaning since the newest release tag (``YYYY.MM.DD[.N]``) before B,
    or B's whole history if there is none. Raises NotFound("unknown revision:
    foo") for a bad ref and GitError for anything git refuses. With ``forge``
    the changes get their PRs' titles, authors, labels and URLs; a forge that
    fails is one ``warn`` and the commit messages' metadata.
    """
    if fmt not in ("markdown", "json"):
        raise ValueError(f"unknown notes format: {fmt!r}")
    repo = GitRepo(repo_path, merge_authors=True)
    since, until = split_range(rng)
    if since is None:
        since = previous_release(repo, repo.resolve(until))
    label = f"{since}..{until}" if since is not None else until

    # An unknown ref fails the git log itself (NotFound): no rev-parse beforehand.
    heading = title or f"Release notes {until}"
    render = render_json if fmt == "json" else render_markdown
    with _gc_paused():
        changes = iter_changes(repo, since, until, prefixes, sources)
        if forge is not None:
            from shipyard.services.forge_notes import described

            changes = iter(described(list(changes), forge, warn or _to_stderr))
        notes = build_notes(
            changes, exclude_authors=exclude_authors, groups=groups, statuses=statuses
        )
        text = render(notes, title=heading, range_label=label)
        empty = notes.count == 0 and notes.excluded == 0
        # Freed here by reference counting, so that re-enabling the collector
        # does not make it scan them all once.
        del changes, notes
    if empty and since is not None:
        _say_if_reversed(repo, since, until, warn or _to_stderr)
    return text


def _say_if_reversed(repo: GitRepo, since: str, until: str, warn: Callable[[str], None]) -> None:
    """An empty ``A..B`` where B is behind A: most likely the two sides swapped."""
    if repo.resolve(since) != repo.resolve(until) and repo.is_ancestor(until, since):
        warn(
            f"{until} is behind {since}, so {since}..{until} is empty: did you mean {until}..{since}?"
        )


def render_configured(
    settings: Settings | NotesSettings,
    rng: str,
    *,
    statuses: Mapping[str, str] | None,
    fmt: NotesFormat = "markdown",
    forge: Forge | None = None,
    warn: Callable[[str], None] | None = None,
) -> str:
    """``render_range`` with the app's ticket rules, excluded authors and groups from its
    settings (all of them, or the few ``config.quick.load_notes`` reads); ``forge`` (the
    app's, when ``[forge]`` names one) describes the PRs."""
    from shipyard.services.forge_notes import configured_groups  # small: core only

    return render_range(
        settings.repo_path,
        rng,
        prefixes=settings.app.ticket_prefixes,
        sources=settings.app.key_sources,
        exclude_authors=settings.app.exclude_authors,
        groups=configured_groups(settings),
        statuses=statuses,
        fmt=fmt,
        forge=forge,
        warn=warn,
    )


def render_for(
    ctx: Context,
    rng: str,
    *,
    statuses: Mapping[str, str] | None,
    fmt: NotesFormat = "markdown",
) -> str:
    """``render_configured`` for ``ctx``'s app: its forge when ``[forge]`` names one (its
    connections closed after), a forge's failure one warning to ``ctx.reporter``."""
    from shipyard.services.forge_notes import uses_forge

    def warn(message: str) -> None:
        ctx.reporter.warn(ctx.scrubber.text(message))

    if not uses_forge(ctx.settings):
        return render_configured(ctx.settings, rng, statuses=statuses, fmt=fmt, warn=warn)

    try:
        return render_configured(
            ctx.settings, rng, statuses=statuses, fmt=fmt, forge=ctx.forge, warn=warn
        )
    finally:
        ctx.close_forge()
