"""What an environment runs and what changed between two commits: shared by deploy and the views."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shipyard.adapters.git import GitRepo
    from shipyard.config import Settings
    from shipyard.services.context import Context
    from shipyard.services.records import Diff

_REMEMBERED = 1000  # longer ranges are read again rather than held


class Repo(Protocol):
    """What the changes need of a context: the settings and the app's repository (a
    full ``Context`` or the quick path's)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def git(self) -> GitRepo: ...


def changes_between(ctx: Repo, base: str | None, commit: str) -> list[Any]:
    """The changes from ``base`` (excluded; None: the whole history) to ``commit``.

    Between two full SHAs the answer never changes: a deploy's second plan, under its
    lease, reuses the first one's instead of reading the log again."""
    from shipyard.adapters.git.memo import is_full_sha
    from shipyard.core.changes import iter_changes

    if base == commit:
        return []
    app = ctx.settings.app
    prefixes, sources = tuple(app.ticket_prefixes), app.key_sources

    def read() -> list[Any]:
        return list(iter_changes(ctx.git, base, commit, prefixes, sources))

    def small(changes: list[Any]) -> bool:
        return len(changes) <= _REMEMBERED

    if base is None or not (is_full_sha(base) and is_full_sha(commit)):
        return read()
    key = ("changes", base, commit, prefixes, sources.title, sources.branch, sources.body)
    changes: list[Any] = ctx.git.memo.get(key, read, keep=small)
    return list(changes)  # the caller's own list


def tickets_of(changes: list[Any]) -> list[str]:
    """The tickets ``changes`` carry; a change reverted within them (and its revert) carries none."""
    from shipyard.core.changes import reverted_within
    from shipyard.core.tickets import ticket_sort_key

    gone = reverted_within(changes)
    return sorted({k for c in changes if c.sha not in gone for k in c.tickets}, key=ticket_sort_key)


def tag_before(ctx: Repo, commit: str) -> str | None:
    """The newest release tag on a proper ancestor of ``commit``: where the pre-release
    notes of a release cut on ``commit`` begin."""
    from shipyard.core.tags import is_release_tag, release_sort_key

    tags = sorted(
        (t for t in ctx.git.merged_tags(commit) if is_release_tag(t)),
        key=release_sort_key,
        reverse=True,
    )
    return next((t for t in tags if ctx.git.tag_target(t) != commit), None)


def range_base(ctx: Repo, running: str | None, commit: str) -> str | None:
    """Where the changes that reach an environment with ``commit`` begin.

    What the environment runs (a deployment, or what ``adopt`` recorded), else the
    commit of the release tag before ``commit``, else None: the whole history.

    >>> range_base(ctx, None, "abc1234")   # prod never deployed, 2024.09.01 before it
    '<the commit of 2024.09.01>'
    """
    if running is not None:
        return running
    tag = tag_before(ctx, commit)
    return ctx.git.tag_target(tag) if tag is not None else None


def ticket_statuses(
    ctx: Context, session: Session, keys: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(raw statuses, labels) of ``keys``; a key the tracker never saw is unverified and
    labelled "not seen by QA yet"."""
    from shipyard.core.gates import shown_status

    raw = ctx.tracker.raw_statuses(session, keys)
    labels = ctx.tracker.statuses(session, keys)
    return raw, {k: shown_status(v) for k, v in labels.items()}


Statuses = Callable[[list[str]], tuple[dict[str, str], dict[str, str]]]


def fill_diff(ctx: Repo, d: Diff, statuses: Statuses) -> Diff:
    """``d`` with what its source brings to a target running ``d.target_commit``: from
    what the target runs (or what ``adopt`` recorded), else from the release tag before
    the source's commit, else all history; ``statuses`` gives the tickets' (raw statuses,
    labels)."""
    if d.source_commit is None:
        return d
    base = range_base(ctx, d.target_commit, d.source_commit)
    if base is not None and not ctx.git.is_ancestor(base, d.source_commit):
        return d
    d.changes = changes_between(ctx, base, d.source_commit)
    d.tickets, d.labels = statuses(tickets_of(d.changes))
    return d
