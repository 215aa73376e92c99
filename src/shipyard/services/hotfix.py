"""Cutting a hotfix release outside the daily train.

``cut_hotfix`` tags a commit that already ran on the release source (stage) with the
day's next suffixed tag (``2024.09.01.1``, ``.2``…); its notes say it is a hotfix and
list the re-reverts still owed. Deploying it to prod is an ordinary deploy of that tag,
through every gate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from shipyard.core import states as st
from shipyard.errors import Conflict
from shipyard.services.context import Context
from shipyard.services.notify import emit
from shipyard.store.models import Deployment, Release


@dataclass
class HotfixResult:
    release: Release
    message: str


def ran_on(ctx: Context, environment: str, commit: str) -> bool:
    """Whether ``commit`` was ever deployed successfully to ``environment``."""
    with ctx.store.read() as s:
        env = ctx.environment_row(s, environment)
        found = s.execute(
            select(Deployment.id)
            .where(
                Deployment.environment_id == env.id,
                Deployment.commit == commit,
                Deployment.state == st.SUCCEEDED,
            )
            .limit(1)
        ).first()
    return found is not None


def cut_hotfix(ctx: Context, ref: str, *, on: date | None = None) -> HotfixResult:
    """Tag ``ref`` as the day's next hotfix release; Conflict when it never ran on stage or
    is already released."""
    from shipyard.core.tags import next_hotfix_tag
    from shipyard.services.deploy.planning import resolve_ref
    from shipyard.services.releases import (
        notes_for,
        previous_release,
        record_release,
        rendered,
        today,
        with_owed,
    )

    commit, _ = resolve_ref(ctx, ref)
    source = ctx.settings.release_source
    if not ran_on(ctx, source, commit):
        raise Conflict(
            f"{commit[:7]} never ran on {source}: a hotfix must go through {source} first"
        )
    remote = ctx.settings.app.remote
    if remote:  # the tags other replicas cut decide this one's number
        ctx.git.fetch(remote, ctx.settings.app.main)
    prev = previous_release(ctx, commit)
    if prev is not None and ctx.git.tag_target(prev) == commit:
        raise Conflict(f"{commit[:7]} is already released as {prev}")
    tag = next_hotfix_tag(on or today(ctx), ctx.git.tags())
    notes = notes_for(ctx, prev, commit)
    label = f"{prev}..{tag}" if prev else f"up to {tag}"
    md, js = rendered(notes, f"{ctx.app_name} {tag} (hotfix)", label)
    head, _, rest = md.partition("\n")
    intro = f"**Hotfix** cut by {ctx.actor} on {commit[:7]}, outside the daily pre-release."
    md, js = with_owed(ctx, f"{head}\n\n{intro}\n{rest}", js)
    js = json.dumps({**json.loads(js), "hotfix": True})
    data = {"commit": commit, "previous": prev, "hotfix": True}
    release = record_release(ctx, tag, commit, prev, md, js, "release.hotfix", data)
    # Sinks hear it as a release cut: its notes say it is a hotfix.
    summary = f"hotfix {tag} cut on {commit[:7]}"
    emit(ctx, "prerelease.cut", summary, ref=tag, commit=commit, notes_markdown=md)
    return HotfixResult(release, f"hotfix {tag} cut on {commit[:7]}")
