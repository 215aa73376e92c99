"""QA on tickets, and the tickets of the history before an app's first sync.

``set_status`` takes keys as people type them (``kafka-12``): a key with a
configured prefix that a commit on main names is accepted even when no sync
recorded it (the ticket is recorded first, audited, in the same transaction);
anything else is refused before anything changes. The CLI, the API and the
dashboard all go through it.

    >>> set_status(ctx, ["mntor-12"], VERIFIED)  # doctest: +SKIP
    [Ticket(key='MNTOR-12', status='verified', ...)]

The first sync of a repository with history records the tickets of the changes
since ``[app] since``, else since the newest release tag on main
(:func:`history_base`), so ``shipyard tickets`` and the QA checklist show them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from shipyard.adapters.git import GitRepo
from shipyard.core.changes import Change
from shipyard.core.tags import latest_release_tag
from shipyard.core.tickets import ticket_finder
from shipyard.errors import ConfigError, NotFound, ShipyardError
from shipyard.services.context import Context
from shipyard.store.models import Ticket

_SHOWN = 40  # characters of a refused key repeated in its error


def normalise_keys(keys: Iterable[str], prefixes: Sequence[str]) -> list[str]:
    """``["mntor-1", "MNTOR-1 "]`` -> ``["MNTOR-1"]``; ShipyardError for anything not a key.

    A key is one ticket key with a configured prefix and nothing else.
    """
    find = ticket_finder(tuple(prefixes))
    out = []
    for raw in keys:
        key = raw.strip().upper()
        if find(key) != (key,):
            raise ShipyardError(_not_a_key(raw.strip(), prefixes))
        out.append(key)
    if not out:
        raise ShipyardError("no ticket given")
    return list(dict.fromkeys(out))


def _not_a_key(raw: str, prefixes: Sequence[str]) -> str:
    shown = raw if len(raw) <= _SHOWN else raw[:_SHOWN] + "…"
    if not prefixes:
        return f"{shown!r} is not a ticket key: no ticket prefixes are configured ([app] ticket_prefixes)"
    like = ", ".join(f"{p}-123" for p in prefixes)
    return f"{shown!r} is not a ticket key here (keys look like {like}; [app] ticket_prefixes)"


def on_main(git: GitRepo, main: str, key: str) -> str | None:
    """The newest commit in ``main``'s history whose message names ``key`` (any case), or None.

    git filters the history for the prefix and the number; the finder then
    applies the key rules (``MNTOR-12`` is not ``MNTOR-123``; ``MNTOR-1/12`` is).
    """
    prefix, _, number = key.rpartition("-")
    find = ticket_finder((prefix,))
    records = git.iter_log_records(None, main, first_parent=False, grep=(f"{prefix}-", number))
    for sha, _parents, _name, _email, _at, message in records:
        if key in find(message):
            return sha
    return None


def set_status(
    ctx: Context, keys: Iterable[str], status: str, *, reason: str | None = None
) -> list[Ticket]:
    """Move tickets to ``status`` (verified or rejected) as ``ctx.actor``; all or nothing.

    Raises ShipyardError for a key without a configured prefix and NotFound for
    a key that no commit on main names.
    """
    wanted = normalise_keys(keys, ctx.settings.app.ticket_prefixes)
    with ctx.store.read() as s:
        missing = ctx.tracker.missing(s, wanted)
    found = {key: on_main(ctx.git, ctx.settings.app.main, key) for key in missing}
    unknown = [k for k, sha in found.items() if sha is None]
    if unknown:
        s_, them = ("s", "them") if len(unknown) > 1 else ("", "it")
        raise NotFound(
            f"unknown ticket{s_}: {', '.join(unknown)} "
            f"(no commit on {ctx.settings.app.main} names {them})"
        )

    def write(session: Session) -> list[Ticket]:
        for key, sha in found.items():
            assert sha is not None
            ctx.tracker.record_merged(session, [key], sha, ctx.actor)
        return ctx.tracker.set_status(session, wanted, status, ctx.actor, reason=reason)

    return ctx.store.retrying(write)


def history_base(ctx: Context, head: str) -> str | None:
    """Where the first sync starts recording tickets: the commit of ``[app] since``, else
    of the newest release tag reachable from ``head``; None when there is neither.

    ConfigError when ``since`` names no commit or one that is not on main's history.
    """
    since = ctx.settings.app.since
    if since is not None:
        sha = ctx.git.rev_parse(since)
        if sha is None:
            raise ConfigError(f"app -> since: unknown revision {since!r}")
        if not ctx.git.is_ancestor(sha, head):
            raise ConfigError(f"app -> since: {since!r} is not on {ctx.settings.app.main}")
        return sha
    tag = latest_release_tag(ctx.git.merged_tags(head))
    return ctx.git.tag_target(tag) if tag is not None else None


def record_history(ctx: Context, session: Session, changes: Sequence[Change]) -> int:
    """Record the tickets of ``changes`` (newest first) as merged; the number of new ones."""
    new = 0
    for c in reversed(changes):  # oldest first: a ticket's first commit is the oldest
        if c.tickets:
            new += len(ctx.tracker.record_merged(session, c.tickets, c.sha, ctx.actor))
    return new
