"""Cutting the day's pre-release, and reading releases back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.core.notes import (
    GroupRule,
    Notes,
    build_notes,
    render_json,
    render_markdown,
)
from shipyard.errors import GitError, NotFound, ShipyardError
from shipyard.services.context import Context
from shipyard.services.forge_notes import configured_groups, described, uses_forge
from shipyard.services.notify import emit
from shipyard.services.records import ReleaseView, release_views
from shipyard.store import audit
from shipyard.store.models import Release
from shipyard.store.queries import current_of, running_where


@dataclass
class PrereleaseResult:
    release: Release | None
    message: str


def group_rules(ctx: Context) -> list[GroupRule]:
    return configured_groups(ctx.settings)


def today(ctx: Context) -> date:
    return datetime.now(ZoneInfo(ctx.settings.app.timezone)).date()


def previous_release(ctx: Context, commit: str) -> str | None:
    """The newest release tag reachable from ``commit``."""
    from shipyard.core.tags import latest_release_tag

    return latest_release_tag(ctx.git.merged_tags(commit))


def notes_for(ctx: Context, since: str | None, until: str) -> Notes:
    from shipyard.core.changes import iter_changes

    app = ctx.settings.app
    changes = list(iter_changes(ctx.git, since, until, app.ticket_prefixes, app.key_sources))
    if uses_forge(ctx.settings):
        try:
            changes = described(changes, ctx.forge, ctx.reporter.warn, ctx.scrubber.text)
        finally:
            ctx.close_forge()
    keys = list(dict.fromkeys(k for c in changes for k in c.tickets))
    with ctx.store.read() as s:
        statuses = ctx.tracker.statuses(s, keys)
    return build_notes(
        changes,
        exclude_authors=ctx.settings.app.exclude_authors,
        groups=group_rules(ctx),
        statuses=statuses,
    )


def cut_prerelease(
    ctx: Context, *, on: date | None = None, commit: str | None = None
) -> PrereleaseResult:
    """Tag what the release source runs (or ``commit``, one it ran) as ``YYYY.MM.DD``
    (``.N`` when the day has one)."""
    from shipyard.core.tags import next_release_tag

    source = ctx.settings.release_source
    if commit is None:
        with ctx.store.read() as s:
            env = ctx.environment_row(s, source)
            current = current_of(s, env)
        if current is None:
            raise NotFound(f"{source} runs nothing yet: run 'shipyard sync' first")
        commit = current.commit
    remote = ctx.settings.app.remote
    if remote:  # the tags other replicas cut decide this one's number
        ctx.git.fetch(remote, ctx.settings.app.main)
    prev = previous_release(ctx, commit)
    prev_commit = ctx.git.tag_target(prev) if prev else None
    notes = notes_for(ctx, prev, commit)
    if prev_commit == commit or (prev is not None and notes.count + notes.excluded == 0):
        return PrereleaseResult(
            None, f"nothing changed on {source} since {prev}; no pre-release cut"
        )
    day = on or today(ctx)
    tag = next_release_tag(day, ctx.git.tags())
    title = f"{ctx.app_name} {tag}"
    label = f"{prev}..{tag}" if prev else f"up to {tag}"
    md, js = with_owed(ctx, *rendered(notes, title, label))
    data = {"commit": commit, "previous": prev, "changes": notes.count + notes.excluded}
    release = record_release(ctx, tag, commit, prev, md, js, "release.prerelease", data)
    emit(
        ctx,
        "prerelease.cut",
        f"pre-release {tag} cut on {commit[:7]} ({_changes(notes.count + notes.excluded)})",
        ref=tag,
        commit=commit,
        notes_markdown=md,
    )
    return PrereleaseResult(release, f"pre-release {tag} cut on {commit[:7]}")


def rendered(notes: Notes, title: str, label: str) -> tuple[str, str]:
    """The notes as Markdown and as JSON."""
    return (
        render_markdown(notes, title=title, range_label=label),
        render_json(notes, title=title, range_label=label),
    )


def with_owed(ctx: Context, md: str, js: str) -> tuple[str, str]:
    """Notes with the re-reverts still owed: a ``Re-reverts owed`` section, a JSON list."""
    import json

    from shipyard.services.rereverts import owed_json, owed_markdown, owed_rereverts

    owed = owed_rereverts(ctx)
    if not owed:
        return md, js
    data = json.loads(js)
    data["rereverts_owed"] = owed_json(owed)
    return md.rstrip("\n") + "\n\n" + owed_markdown(owed), json.dumps(data)


def record_release(
    ctx: Context,
    tag: str,
    commit: str,
    prev: str | None,
    md: str,
    js: str,
    action: str,
    data: Mapping[str, object],
) -> Release:
    """Record the release ``tag`` on ``commit`` (audited as ``action``) and create its git
    tag (pushed to ``[app] remote``); all or nothing."""

    def write(session: Session) -> Release:
        r = _release_row(ctx, tag, commit, prev, md, js)
        session.add(r)
        session.flush()
        audit.append(
            session, actor=ctx.actor, app=ctx.app_name, action=action, subject=tag, data=data
        )
        # The tag goes last: if it fails, the transaction rolls back and nothing is left.
        _tag(ctx, tag, commit, md)
        return r

    try:
        return ctx.store.retrying(write)
    except GitError as exc:
        raise ShipyardError(f"could not tag {tag}: {exc.message}") from None
    except BaseException:
        # The database refused after the tag was written: take the tag back.
        if ctx.git.tag_target(tag) == commit and not _release_exists(ctx, tag):
            ctx.git.delete_tag(tag)
        raise


def _release_row(
    ctx: Context, tag: str, commit: str, prev: str | None, md: str, js: str
) -> Release:
    """The release ``tag`` on ``commit``, cut now by the context's actor (not yet latest)."""
    return Release(
        app_id=ctx.app_id,
        tag=tag,
        sha=commit,
        previous_tag=prev,
        notes_markdown=md,
        notes_json=js,
        created_by=ctx.actor,
        created_at=datetime.now(UTC),
        latest=False,
    )


def _tag(ctx: Context, tag: str, commit: str, md: str) -> None:
    """The git tag, annotated with the notes by the actor, pushed to ``[app] remote``."""
    ctx.git.create_tag(tag, commit, md, tagger_name=ctx.actor.split("@")[0], tagger_email=ctx.actor)
    remote = ctx.settings.app.remote
    if remote:
        _push_tag(ctx, remote, tag)


def _push_tag(ctx: Context, remote: str, tag: str) -> None:
    """Publish the tag; if the remote refuses it, the local tag goes too (and the release
    with the transaction), so a retry starts clean."""
    try:
        ctx.git.push_tag(remote, tag)
    except GitError:
        ctx.git.delete_tag(tag)
        raise


def _release_exists(ctx: Context, tag: str) -> bool:
    with ctx.store.read() as s:
        return (
            s.execute(
                select(Release.id).where(Release.app_id == ctx.app_id, Release.tag == tag)
            ).first()
            is not None
        )


def list_releases(ctx: Context, limit: int = 30) -> list[ReleaseView]:
    with ctx.store.read() as s:
        rows = (
            s.execute(
                select(Release)
                .where(Release.app_id == ctx.app_id)
                .order_by(Release.id.desc())
                .limit(limit)
            )
            .scalars()
            .all()
        )
        where = running_where(s, ctx.app_id)
    return release_views(rows, where)


def get_release(ctx: Context, tag: str) -> Release:
    with ctx.store.read() as s:
        r = s.execute(
            select(Release).where(Release.app_id == ctx.app_id, Release.tag == tag)
        ).scalar_one_or_none()
    if r is None:
        raise NotFound(f"no release {tag}")
    return r


def _changes(n: int) -> str:
    return f"{n} change{'s' if n != 1 else ''}"
