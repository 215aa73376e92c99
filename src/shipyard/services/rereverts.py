"""Seeing owed re-reverts come back on main, and showing what is still owed.

The re-revert is read from history, whoever made it: a commit on main's first-parent
chain that says ``This reverts commit <R>`` where ``R`` reverted the owed change, or
one titled ``Revert "Revert "X""`` / ``Reapply "X"`` for the owed change's title ``X``.
``settle`` runs on every sync and clears each owed entry it finds back (audited).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.core.changes import Change
from shipyard.errors import NotFound
from shipyard.services.context import Context
from shipyard.services.records import owed_json, owed_ref, owed_tickets
from shipyard.store import audit
from shipyard.store.models import OwedRerevert


def open_owed(session: Session, app_id: int) -> list[OwedRerevert]:
    """The re-reverts still owed, oldest first."""
    q = select(OwedRerevert).where(OwedRerevert.app_id == app_id, OwedRerevert.cleared_at.is_(None))
    return list(session.execute(q.order_by(OwedRerevert.id)).scalars())


def owed_rereverts(ctx: Context) -> list[OwedRerevert]:
    with ctx.store.read() as s:
        return open_owed(s, ctx.app_id)


tickets_of = owed_tickets


__all__ = ["open_owed", "owed_json", "owed_markdown", "owed_rereverts", "settle", "tickets_of"]

MAX_SCAN = 20_000
"""At most this many commits of main are read per settle (newest first)."""


def _same(a: str | None, b: str | None) -> bool:
    if not a or not b or min(len(a), len(b)) < 7:
        return False
    return a.startswith(b) or b.startswith(a)


def _changes_since(ctx: Context, since: str) -> list[Change]:
    """Main's changes after ``since``, oldest first (bounded by MAX_SCAN)."""
    from itertools import islice

    from shipyard.core.changes import iter_changes

    app = ctx.settings.app
    head = ctx.git.head_of(app.main)
    if head is None or not ctx.git.is_ancestor(since, head):
        return []
    found = list(islice(iter_changes(ctx.git, since, head, app.ticket_prefixes), MAX_SCAN))
    found.reverse()
    return found


def _reverts_of(row: OwedRerevert, changes: Iterable[Change]) -> list[str]:
    """The commits on main that revert the owed change, oldest first (by ``This reverts
    commit``, else, for a merged revert PR, by its title ``Revert "X"``)."""
    return [
        c.sha
        for c in changes
        if c.is_revert
        and (
            _same(c.reverts, row.sha)
            or (c.reverts is None and _names(row, c.title.removeprefix('Revert "')[:-1]))
        )
    ]


def revert_on_main(ctx: Context, row: OwedRerevert) -> str | None:
    """The newest commit on main that reverts ``row``'s change, if its revert landed."""
    found = _reverts_of(row, _changes_since(ctx, row.sha))
    return found[-1] if found else None


def _inner_title(title: str) -> str | None:
    """``X`` for ``Revert "Revert "X""`` or ``Reapply "X"``; None otherwise."""
    for head, tail in (('Revert "Revert "', '""'), ('Reapply "', '"')):
        if title.startswith(head) and title.endswith(tail):
            return title[len(head) : len(title) - len(tail)]
    return None


def _names(row: OwedRerevert, title: str) -> bool:
    """Whether ``title`` (a reverted commit's subject) names the owed change."""
    if title == row.title:
        return True
    if row.pr is not None:
        return title.startswith((f"{row.title} (#{row.pr})", f"Merge pull request #{row.pr} "))
    return False


def rerevert_of(row: OwedRerevert, changes: Sequence[Change]) -> Change | None:
    """The change on main (oldest first in ``changes``) that brings ``row`` back."""
    reverts = set(_reverts_of(row, changes))
    if row.revert_sha:
        reverts.add(row.revert_sha)
    for c in changes:
        if c.reverts and any(_same(c.reverts, r) for r in reverts):
            return c
        inner = _inner_title(c.title) if c.is_rerevert else None
        if inner is not None and _names(row, inner):
            return c
    return None


def settle(ctx: Context) -> list[OwedRerevert]:
    """Clear every owed re-revert whose re-revert is on main now; the cleared rows."""
    with ctx.store.read() as s:
        rows = open_owed(s, ctx.app_id)
    if not rows:
        return []
    cleared: list[tuple[OwedRerevert, Change]] = []
    for row in rows:
        try:
            back = rerevert_of(row, _changes_since(ctx, row.sha))
        except NotFound:
            continue
        if back is not None:
            cleared.append((row, back))
    if not cleared:
        return []

    def write(session: Session) -> list[OwedRerevert]:
        now = datetime.now(UTC)
        done = []
        for row, back in cleared:
            fresh = session.get(OwedRerevert, row.id)
            if fresh is None or fresh.cleared_at is not None:
                continue
            fresh.cleared_at, fresh.cleared_by_sha = now, back.sha
            audit.append(
                session, actor=ctx.actor, app=ctx.app_name, action="revert.rereverted",
                subject=f"#{row.pr}" if row.pr is not None else row.sha[:10],
                data={"commit": row.sha, "rerevert": back.sha, "title": back.title},
            )  # fmt: skip
            done.append(fresh)
        return done

    done = ctx.store.retrying(write)
    for row in done:
        ctx.reporter.step(f"re-revert of {_ref(row)} {row.title} is on main")
    return done


_ref = owed_ref


def owed_markdown(rows: Sequence[OwedRerevert]) -> str:
    """The ``Re-reverts owed`` section of notes; empty when nothing is owed."""
    if not rows:
        return ""
    lines = ["## Re-reverts owed", ""]
    for r in rows:
        keys = tickets_of(r)
        tickets = f" ({', '.join(keys)})" if keys else ""
        where = f"PR #{r.revert_pr}" if r.revert_pr is not None else f"branch {r.branch}"
        lines.append(
            f"- {_ref(r)} {r.title}{tickets}: reverted by {r.reverted_by} "
            f"({r.reason}); revert in {where}"
        )
    return "\n".join(lines) + "\n"
