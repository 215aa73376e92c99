"""External checks decide builds: check results on a commit's build, and their verdict.

Check results from GitHub (or ``POST /webhooks/build``) are Check rows on the
commit's build. With ``required_checks`` set, a pending build passes when every
required check has reported success and its artifact has been produced (by
``build_run.run_build``, which also runs any local ``[checks]``); it fails as soon
as a required check fails.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.core.builds import FAILED, PASSED, PENDING, verdict
from shipyard.errors import ShipyardError
from shipyard.services import build_run, builds
from shipyard.services.context import Context
from shipyard.services.images import recheck_images
from shipyard.services.webhooks.deliveries import WebhookSettings
from shipyard.store import audit
from shipyard.store.models import Build, Check
from shipyard.store.queries import check_states

log = logging.getLogger("shipyard.webhooks")


def record_check(
    session: Session, build: Build, name: str, status: str, log_text: str, limit: int
) -> None:
    """The latest report of check ``name`` on ``build`` (a re-run replaces the earlier one)."""
    row = (
        session.execute(
            select(Check).where(Check.build_id == build.id, Check.name == name).order_by(Check.id)
        )
        .scalars()
        .first()
    )
    if len(log_text) > limit:
        log_text = log_text[-limit:]
    if row is None:
        session.add(Check(build_id=build.id, name=name, status=status, log=log_text))
    else:
        row.status, row.log, row.exit_code = status, log_text, None


def build_for(
    ctx: Context, session: Session, sha: str, *, create: bool, subject: str = "", author: str = ""
) -> Build | None:
    """The commit's build; a new pending one when ``create`` and there is none."""
    row = session.execute(
        select(Build).where(Build.app_id == ctx.app_id, Build.sha == sha)
    ).scalar_one_or_none()
    if row is not None or not create:
        return row
    row = Build(
        app_id=ctx.app_id,
        sha=sha,
        short_sha=sha[:7],
        status=PENDING,
        superseded=False,
        subject=subject,
        author=author,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=ctx.actor,
        app=ctx.app_name,
        action="build.recorded",
        subject=sha[:7],
        data={"commit": sha, "via": "webhook"},
    )
    return row


def prepare_build(ctx: Context, ws: WebhookSettings, sha: str) -> bool:
    """Get a commit of main that checks were reported on ready for its build.

    When the repository has the commit, new builds are recorded from it as sync
    would (with their tickets), and False is returned: a commit older than the
    last one ingested gets no build, so an old one never becomes the newest green.
    When the repository lacks it (the report came before the push), True: create a
    pending build, but only if external checks decide builds; local checks could
    not run on a commit the repository does not have.
    """
    try:
        with ctx.store.read() as s:
            known = s.execute(
                select(Build.id).where(Build.app_id == ctx.app_id, Build.sha == sha)
            ).first()
        if known is not None:
            return False
        if ctx.git.rev_parse(sha) is not None:
            builds.record_new_builds(ctx)
            return False
    except ShipyardError as exc:
        log.warning("could not read new commits before recording %s: %s", sha[:7], exc.message)
    return bool(ws.required_checks)


def fail_build(ctx: Context, build: Build, reason: str) -> None:
    def write(session: Session) -> None:
        row = session.get(Build, build.id)
        assert row is not None
        if row.status != PENDING:
            return
        row.status = FAILED
        row.finished_at = datetime.now(UTC)
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="build.failed",
            subject=row.short_sha,
            data={"commit": row.sha, "reason": reason},
        )

    ctx.store.retrying(write)


def advance(ctx: Context, required: Sequence[str]) -> list[str]:
    """Move builds that wait on external checks: fail, or produce the artifact and pass;
    then the newest green build goes to every automatic environment. Returns short SHAs
    that passed."""
    from shipyard.services.deploy.follow import follow_main
    from shipyard.services.deploy.recovery import recover

    recover(ctx)
    passed = []
    for b in builds.pending_builds(ctx):
        with ctx.store.read() as s:
            state = verdict(check_states(s, b.id), required)
        if state == FAILED:
            fail_build(ctx, b, "a required check failed")
        # The artifact comes from the repository: a commit it does not have yet waits.
        elif (
            state == PASSED and ctx.git.rev_parse(b.sha) is not None and build_run.run_build(ctx, b)
        ):
            passed.append(b.short_sha)
    passed += recheck_images(ctx)  # an image pushed after its checks were reported
    green = builds.newest_green(ctx)
    if green is not None:
        builds.mark_superseded(ctx, green)
        follow_main(ctx, green)
    return passed
