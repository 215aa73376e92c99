"""Ingest: new commits on main become builds, green builds become artifacts,
and the newest green build follows every automatic environment.

Running one build's checks and publishing its artifact is ``services.build_run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.core.builds import (
    FAILED,
    PASSED,
    PENDING,
    WAITING_IMAGE,
)
from shipyard.errors import GitError, ShipyardError
from shipyard.services.context import Context
from shipyard.services.images import image_of, recheck_images
from shipyard.services.notify import emit
from shipyard.store import audit
from shipyard.store.models import App, Build


@dataclass
class SyncResult:
    new_builds: list[Build] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deployed: dict[str, str] = field(default_factory=dict)  # env -> short sha
    deploy_failed: dict[str, str] = field(default_factory=dict)  # env -> why it failed
    held: dict[str, str] = field(default_factory=dict)  # env -> why its build was not retried
    message: str = ""


def _new_commits(ctx: Context, app: App, head: str) -> list[str]:
    git = ctx.git
    last = app.last_seen_sha
    if last == head:
        return []
    if last is None:
        # The first sync adopts main's head as the starting point; history before
        # it is not rebuilt (its tickets are recorded: see _log_start).
        return [head]
    if git.rev_parse(last) is None or not git.is_ancestor(last, head):
        ctx.reporter.warn(f"{ctx.settings.app.main} was rewritten; starting again from {head[:7]}")
        return [head]
    return git.first_parent_shas(last, head)


def _log_start(ctx: Context, first_new: str, head: str, first_sync: bool) -> str | None:
    """Where the changes read by a sync start: before the first new commit or, on the
    first sync, at the history whose tickets are recorded too (services.tickets)."""
    from shipyard.services.tickets import history_base

    parent: str | None = first_new + "^"
    if ctx.git.rev_parse(first_new + "^") is None:  # the root commit
        parent = None
    if first_sync:
        base = history_base(ctx, head)
        if base is not None and base != head:
            return base
        if base is None and parent is not None:
            ctx.reporter.warn(
                f"no release tag on {ctx.settings.app.main}: tickets merged before "
                f'{head[:7]} are not recorded ([app] since = "<ref>" records them)'
            )
    return parent


def record_new_builds(ctx: Context) -> list[Build]:
    """Record a pending build for each new commit on main, and its tickets.

    The first sync also records the tickets of the changes since ``[app] since``
    or the newest release tag on main; it builds only main's head.
    """
    from shipyard.core.changes import iter_changes
    from shipyard.services.tickets import record_history

    main = ctx.settings.app.main
    if ctx.settings.app.remote:  # another replica's clone may have seen more
        ctx.git.fetch(ctx.settings.app.remote, main)
    head = ctx.git.head_of(main)
    if head is None:
        raise GitError(f"branch {main!r} not found in {ctx.settings.repo_path}")
    with ctx.store.read() as s:
        app = s.get(App, ctx.app_id)
        assert app is not None
        first_sync = app.last_seen_sha is None
        shas = _new_commits(ctx, app, head)
    if not shas:
        return []
    wanted = set(shas)
    since = _log_start(ctx, shas[0], head, first_sync)
    cfg = ctx.settings.app
    found = list(iter_changes(ctx.git, since, head, cfg.ticket_prefixes, cfg.key_sources))
    changes = {c.sha: c for c in found if c.sha in wanted}
    earlier = [c for c in found if c.sha not in wanted]

    merged: dict[str, str] = {}  # ticket -> the commit that first named it, when committed

    def write(session: Session) -> list[Build]:
        merged.clear()  # a retried transaction starts again
        app = session.get(App, ctx.app_id, with_for_update=True)
        assert app is not None
        known = set(
            session.execute(
                select(Build.sha).where(Build.app_id == app.id, Build.sha.in_(shas))
            ).scalars()
        )
        now = datetime.now(UTC)
        made = []
        if earlier:  # the first sync's history, before head's own tickets
            record_history(ctx, session, earlier)
        for sha in shas:
            if sha in known:
                continue
            ch = changes.get(sha)
            b = Build(
                app_id=app.id,
                sha=sha,
                short_sha=sha[:7],
                status=PENDING,
                superseded=False,
                subject=ch.title if ch else "",
                author=ch.author if ch else "",
                created_at=now,
            )
            session.add(b)
            session.flush()
            audit.append(
                session,
                actor=ctx.actor,
                app=app.name,
                action="build.recorded",
                subject=sha[:7],
                data={"commit": sha, "pr": ch.pr if ch else None},
            )
            if ch and ch.tickets:
                for key in ctx.tracker.record_merged(session, ch.tickets, sha, ctx.actor):
                    merged[key] = sha
            made.append(b)
        if app.baseline_sha is None:
            app.baseline_sha = head
        app.last_seen_sha = head
        return made

    made = ctx.store.retrying(write)
    if merged:
        _tell_merged(ctx, merged)
    if earlier:
        n = len(earlier)
        ctx.reporter.step(f"recorded the tickets of {n} earlier change{'s' * (n != 1)} on {main}")
    return made


def _tell_merged(ctx: Context, merged: dict[str, str]) -> None:
    """The ``tickets.merged`` event: the tracker's ``on_merge`` goes out through the outbox."""
    keys = list(merged)
    last = list(merged.values())[-1]
    n = len(keys)
    emit(
        ctx,
        "tickets.merged",
        f"{n} ticket{'s' * (n != 1)} merged to {ctx.settings.app.main}: {', '.join(keys[:10])}"
        + (f" and {n - 10} more" if n > 10 else ""),
        commit=last,
        details={"tickets": keys},
    )


def pending_builds(ctx: Context) -> list[Build]:
    with ctx.store.read() as s:
        return list(
            s.execute(
                select(Build)
                .where(Build.app_id == ctx.app_id, Build.status == PENDING)
                .order_by(Build.id)
            ).scalars()
        )


def newest_green(ctx: Context) -> Build | None:
    with ctx.store.read() as s:
        return s.execute(
            select(Build)
            .where(
                Build.app_id == ctx.app_id,
                Build.status == PASSED,
                Build.artifact_digest.is_not(None),  # green needs both facts (core.builds)
                Build.artifact_collected_at.is_(None),
            )
            .order_by(Build.id.desc())
            .limit(1)
        ).scalar_one_or_none()


def mark_superseded(ctx: Context, newest: Build) -> None:
    def write(session: Session) -> None:
        rows = session.execute(
            select(Build).where(
                Build.app_id == ctx.app_id,
                Build.status == PASSED,
                Build.id < newest.id,
                Build.superseded.is_(False),
            )
        ).scalars()
        for b in rows:
            b.superseded = True

    ctx.store.retrying(write)


def sync(ctx: Context, *, deploy: bool = True) -> SyncResult:
    """Read main, build what is new, and move automatic environments to the newest green build.

    The builds run the newest commit first, ``[checks] parallel`` at once; environments
    move as soon as the newest finished build is green and no newer one still runs,
    without waiting for older ones (they never move an environment back)."""
    from shipyard.services.build_batch import run_builds
    from shipyard.services.deploy.recovery import recover
    from shipyard.services.status import refresh_waiting

    recover(ctx)
    result = SyncResult()
    result.new_builds = record_new_builds(ctx)
    pending = pending_builds(ctx)
    unfinished = {b.id for b in pending}

    def done(b: Build, green: bool) -> None:
        unfinished.discard(b.id)
        _tally(ctx, result, b, green)
        if green and deploy:
            newest = newest_green(ctx)
            if newest is not None and all(i < newest.id for i in unfinished):
                _follow(ctx, result, newest)

    run_builds(ctx, pending, done)
    result.passed += recheck_images(ctx)
    green = newest_green(ctx)
    if green is None:
        result.message = "no green build yet"
    else:
        mark_superseded(ctx, green)
        if deploy:
            _follow(ctx, result, green)
    after_sync_gc(ctx)
    settle_owed(ctx)
    refresh_waiting(ctx, force=True)  # what waits upstream, for status; never raises
    return result


def _tally(ctx: Context, result: SyncResult, b: Build, green: bool) -> None:
    if green:
        result.passed.append(b.short_sha)
    elif b.status == FAILED:
        result.failed.append(b.short_sha)
    elif b.status == WAITING_IMAGE:
        ctx.reporter.step(f"build {b.short_sha} waits for image {image_of(ctx, b.sha)}")
    else:
        ctx.reporter.step(f"build {b.short_sha} waits for its required checks")


def _follow(ctx: Context, result: SyncResult, green: Build) -> None:
    """Move the automatic environments to ``green`` (only ever forward: ``follow_main``)."""
    from shipyard.services.deploy.follow import follow_main

    mark_superseded(ctx, green)
    followed = follow_main(ctx, green)
    result.deployed.update(followed.deployed)
    result.deploy_failed.update(followed.failed)
    for env, why in followed.held.items():
        if env not in result.deploy_failed:  # already told: its deployment failed
            result.held[env] = why


def after_sync_gc(ctx: Context) -> None:
    """With ``[artifacts] gc = "auto"``, collect old artifacts; a failure only warns."""
    from shipyard.services.gc import collect

    if ctx.settings.artifacts.gc != "auto":
        return
    try:
        collect(ctx, dry_run=False, quiet=True)
    except ShipyardError as exc:
        ctx.reporter.warn(f"artifacts not collected: {exc.message}")


def settle_owed(ctx: Context) -> None:
    """Clear the re-reverts owed that came back on main; a failure only warns."""
    from shipyard.services.rereverts import settle

    try:
        settle(ctx)
    except ShipyardError as exc:
        ctx.reporter.warn(f"re-reverts owed not checked: {exc.message}")
