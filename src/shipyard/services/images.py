"""Builds whose checks passed before CI's image was pushed: finding the image later.

With an OCI registry a build is green only once ``repository:<build_tag>`` exists. CI
may report its checks before the push lands, so every sync, scheduler poll and webhook
ingest looks again (:func:`recheck_images`), and a deploy that waits for the artifact
records it the moment it appears (:func:`record_artifact`). The look is bounded: only
builds newer than the newest green one, newest first, one HEAD each, at most
``RECHECK_LIMIT`` of them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.core.builds import PASSED, WAITING_IMAGE, settle
from shipyard.errors import ShipyardError
from shipyard.services.context import Context
from shipyard.store import audit
from shipyard.store.models import Build

RECHECK_LIMIT = 20


def record_artifact(ctx: Context, build_id: int, digest: str) -> str:
    """Record that the artifact of a build exists; a build waiting for its image turns
    green (audited as ``build.passed``). Returns the build's status."""

    def write(session: Session) -> str:
        row = session.get(Build, build_id, with_for_update=True)
        assert row is not None
        row.artifact_digest = digest
        if row.status != WAITING_IMAGE:
            return row.status
        row.status = settle(PASSED, digest)
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="build.passed",
            subject=row.short_sha,
            data={"commit": row.sha, "artifact": digest, "image": image_of(ctx, row.sha)},
        )
        return row.status

    return ctx.store.retrying(write)


def image_of(ctx: Context, sha: str) -> str | None:
    """The image a build of ``sha`` waits for (``acme/web:abc1234``), None for local stores."""
    return ctx.settings.artifacts.image_of(sha)


def waiting_for_image(ctx: Context) -> list[Build]:
    """Builds waiting for their image that are newer than the newest green build,
    newest first, at most ``RECHECK_LIMIT``."""
    with ctx.store.read() as s:
        newest = s.execute(
            select(Build.id)
            .where(
                Build.app_id == ctx.app_id,
                Build.status == PASSED,
                Build.artifact_digest.is_not(None),
            )
            .order_by(Build.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        query = select(Build).where(Build.app_id == ctx.app_id, Build.status == WAITING_IMAGE)
        if newest is not None:
            query = query.where(Build.id > newest)
        return list(s.execute(query.order_by(Build.id.desc()).limit(RECHECK_LIMIT)).scalars())


def recheck_images(ctx: Context) -> list[str]:
    """Look for the image of each build waiting for one (see :func:`waiting_for_image`);
    the newest found turns green and older ones need no look. Returns the short SHAs that
    turned green. A registry that cannot be reached is a warning, never an error: the
    next look tries again."""
    turned = []
    for build in waiting_for_image(ctx):
        try:
            digest = ctx.artifacts.locate(ctx.app_name, build.sha)
        except ShipyardError as exc:
            ctx.reporter.warn(f"could not look for the image of {build.short_sha}: {exc.message}")
            break
        if digest is None:
            continue
        if record_artifact(ctx, build.id, digest) == PASSED:
            ctx.reporter.step(f"build {build.short_sha}: image {image_of(ctx, build.sha)} found")
            turned.append(build.short_sha)
        break
    return turned
