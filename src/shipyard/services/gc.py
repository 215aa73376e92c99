"""Collecting old artifacts: ``shipyard gc``, and after each sync with ``[artifacts] gc = "auto"``.

Never collected, whatever the policy: the build each environment runs, the one
``shipyard rollback`` would return it to, the builds of deployments under way or awaiting
approval, the builds of release tags, and the newest green build (automatic environments
follow it). Of the others, the ``[artifacts] keep`` newest are kept, and those finished
in the last ``keep_days`` days; the rest are collected. A deploy queued while a gc
decides is never left with a collected artifact: one of them waits for the other.

Collecting records it on the build first (``artifact_collected_at``, audited as
``artifacts.collected``), then removes the artifact from the store and prunes what no
artifact uses any more. A deploy of a collected build is refused by its gate until
``shipyard rebuild`` makes the same artifact again from the commit. A registry (``kind =
"oci"``) is never touched: its own retention policy removes images.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.core import states as st
from shipyard.core.builds import PASSED
from shipyard.errors import NotFound, ShipyardError
from shipyard.private import private_dir
from shipyard.services.context import Context
from shipyard.store import audit
from shipyard.store.models import Build, Deployment, Environment, Release
from shipyard.store.queries import current_of, find_build, rollback_target


@dataclass(frozen=True)
class Verdict:
    """What gc does with one build's artifact, and why."""

    build_id: int
    short_sha: str
    remove: bool
    why: str


@dataclass
class GcReport:
    dry_run: bool
    verdicts: list[Verdict] = field(default_factory=list)
    note: str = ""  # why nothing was looked at (a registry)
    files: int = 0  # stored files freed by pruning
    bytes: int = 0

    @property
    def removed(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.remove]

    @property
    def kept(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.remove]

    def as_dict(self) -> dict[str, Any]:
        """The report as the API answers it (and ``shipyard gc`` reads it back)."""
        return {
            "dry_run": self.dry_run,
            "note": self.note,
            "files": self.files,
            "bytes": self.bytes,
            "builds": [
                {"build": v.build_id, "commit": v.short_sha, "remove": v.remove, "why": v.why}
                for v in self.verdicts
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GcReport:
        verdicts = [Verdict(b["build"], b["commit"], b["remove"], b["why"]) for b in d["builds"]]
        return cls(d["dry_run"], verdicts, d["note"], d["files"], d["bytes"])


def protected(ctx: Context, s: Session) -> dict[str, str]:
    """The commits whose artifacts are never collected, each with why."""
    why: dict[str, str] = {}

    def add(sha: str, reason: str) -> None:
        why.setdefault(sha, reason)

    envs = s.execute(select(Environment).where(Environment.app_id == ctx.app_id)).scalars()
    for env in envs:
        current = current_of(s, env)
        if current is None:
            continue
        add(current.commit, f"{env.name} runs it")
        back = rollback_target(s, env, current)
        if back is not None:
            add(back.commit, f"'shipyard rollback {env.name}' returns to it")
    under_way = s.execute(
        select(Deployment.commit, Deployment.state).where(
            Deployment.app_id == ctx.app_id, Deployment.state.not_in(st.TERMINAL_STATES)
        )
    )
    for commit, state in under_way:
        add(commit, f"a deployment of it is {state.replace('_', ' ')}")
    for tag, sha in s.execute(select(Release.tag, Release.sha).where(Release.app_id == ctx.app_id)):
        add(sha, f"release {tag} points at it")
    newest = s.execute(
        select(Build.sha)
        .where(
            Build.app_id == ctx.app_id, Build.status == PASSED, Build.artifact_digest.is_not(None)
        )
        .order_by(Build.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if newest is not None:
        add(newest, "the newest green build: automatic environments follow it")
    return why


def decide(ctx: Context, s: Session, now: datetime) -> list[tuple[Build, Verdict]]:
    """Every build that has an artifact, newest first, with what the policy does with it."""
    cfg = ctx.settings.artifacts
    keep_from = now - timedelta(days=cfg.keep_days) if cfg.keep_days else None
    safe = protected(ctx, s)
    rows = s.execute(
        select(Build)
        .where(
            Build.app_id == ctx.app_id,
            Build.artifact_digest.is_not(None),
            Build.artifact_collected_at.is_(None),
        )
        .order_by(Build.id.desc())
    ).scalars()
    out: list[tuple[Build, Verdict]] = []
    kept = 0  # unprotected builds kept as one of the newest
    for b in rows:
        finished = (
            b.finished_at.replace(tzinfo=b.finished_at.tzinfo or UTC) if b.finished_at else None
        )
        if b.sha in safe:
            remove, why = False, safe[b.sha]
        elif kept < cfg.keep:
            kept += 1
            remove, why = False, f"one of the {cfg.keep} newest ([artifacts] keep)"
        elif keep_from is not None and (finished is None or finished >= keep_from):
            remove, why = False, f"built in the last {cfg.keep_days:g} days ([artifacts] keep_days)"
        else:
            remove, why = True, "older than what the policy keeps, and nothing needs it"
        out.append((b, Verdict(b.id, b.short_sha, remove, why)))
    return out


def _decide_locked(ctx: Context, s: Session, now: datetime) -> list[tuple[Build, Verdict]]:
    """``decide``, made again once the builds it would collect are locked.

    A deployment's row names its build (a foreign key), so the transaction that queues
    a deploy holds its build's row (PostgreSQL's key-share lock) until it commits, as
    SQLite's write lock holds everything. A deploy that queued in the meantime is then
    seen here as under way; one that queues later waits for this transaction and its
    second plan finds the artifact collected. A build that only became collectable in
    between is left to the next gc."""
    decided = decide(ctx, s, now)
    first = [b.id for b, v in decided if v.remove]
    if not first:
        return decided
    s.execute(select(Build.id).where(Build.id.in_(first)).order_by(Build.id).with_for_update())
    s.expire_all()  # what runs where, as committed by now
    locked = set(first)
    later = "it became collectable while gc ran: the next gc decides"
    return [
        (b, v if not v.remove or b.id in locked else Verdict(b.id, b.short_sha, False, later))
        for b, v in decide(ctx, s, now)
    ]


def collect(ctx: Context, *, dry_run: bool, quiet: bool = False) -> GcReport:
    """Apply the retention policy: record, audit, then remove and prune (unless ``dry_run``)."""
    report = GcReport(dry_run=dry_run)
    store = ctx.artifacts
    if not getattr(store, "collects", False):
        report.note = getattr(
            store, "RETENTION", "this artifact store removes nothing: its own retention does"
        )
        return report
    now = datetime.now(UTC)
    if dry_run:
        with ctx.store.read() as s:
            report.verdicts = [v for _, v in decide(ctx, s, now)]
        return report
    doomed: list[tuple[str, str]] = []  # (short sha, digest)

    def write(session: Session) -> list[Verdict]:
        doomed.clear()  # a retried transaction starts again
        decided = _decide_locked(ctx, session, now)
        for b, v in decided:
            if v.remove and b.artifact_digest:
                b.artifact_collected_at = now
                doomed.append((b.short_sha, b.artifact_digest))
        if doomed:
            audit.append(
                session,
                actor=ctx.actor,
                app=ctx.app_name,
                action="artifacts.collected",
                subject=f"{len(doomed)} build{'s' * (len(doomed) != 1)}",
                data={"builds": [sha for sha, _ in doomed]},
            )
        return [v for _, v in decided]

    report.verdicts = ctx.store.retrying(write)
    if doomed:
        report.files, report.bytes = _remove(ctx, [digest for _, digest in doomed])
        if quiet:
            ctx.reporter.step(f"gc: collected the artifacts of {len(doomed)} old builds")
    return report


def _remove(ctx: Context, digests: list[str]) -> tuple[int, int]:
    """Remove the artifacts (already recorded as collected), then prune: files, bytes freed."""
    for digest in digests:
        ctx.artifacts.remove(ctx.app_name, digest)
    return ctx.artifacts.prune()


def rebuild(ctx: Context, ref: str) -> Build:
    """Make a collected build's artifact again from its commit (no check runs again: they
    passed on the same files); the build may then be deployed."""
    with ctx.store.read() as s:
        build = find_build(s, ctx.app_id, ref)
    if build is None:
        raise NotFound(f"no build of {ref!r}: 'shipyard builds' lists them")
    if build.artifact_collected_at is None:
        raise ShipyardError(f"build {build.short_sha} still has its artifact: nothing to rebuild")
    digest = _republish(ctx, build)

    def write(session: Session) -> Build:
        row = session.get(Build, build.id, with_for_update=True)
        assert row is not None
        was, row.artifact_digest, row.artifact_collected_at = row.artifact_digest, digest, None
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="build.rebuilt",
            subject=row.short_sha,
            data={"commit": row.sha, "artifact": digest, "same": was == digest},
        )
        return row

    return ctx.store.retrying(write)


def _republish(ctx: Context, build: Build) -> str:
    """The build's artifact made again from its commit, as the build made it."""
    from shipyard.services.build_run import version_file
    from shipyard.services.build_source import CommitSource

    scratch = private_dir(ctx.settings.state_dir / "work")
    work = Path(tempfile.mkdtemp(prefix=f"rebuild-{build.short_sha}-", dir=scratch))
    try:
        extra = {"version.json": version_file(ctx, build)}
        source = CommitSource(ctx.git, build.sha, extra, work / "artifact")
        digest = ctx.artifacts.publish(ctx.app_name, build.sha, source)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if digest is None:
        raise ShipyardError(f"the artifact of {build.short_sha} could not be made again")
    return digest
