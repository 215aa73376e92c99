"""Planning a deployment: resolve the ref, gather the facts, evaluate every gate; change nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.core import states as st
from shipyard.core.gates import DeployFacts, Gate, evaluate, refusal, unverified
from shipyard.errors import InvalidRef, NotFound, Refused, ShipyardError
from shipyard.services import freezes
from shipyard.services.context import Context
from shipyard.services.deploy.changes import changes_between, range_base, tickets_of
from shipyard.store.models import Build, Deployment, E2ERun
from shipyard.store.queries import (
    checks_of,
    current_of,
    find_build,
    last_e2e_run,
    rollback_target,
)

HEX_RE = re.compile(r"^[0-9a-f]{4,40}$")


@dataclass
class Plan:
    environment: str
    ref: str
    kind: str
    commit: str
    tag: str
    build_id: int | None
    build_status: str | None
    release_tag: str | None
    current_commit: str | None
    current_ref: str | None
    changes: list[Any] = field(default_factory=list)
    tickets: dict[str, str] = field(default_factory=dict)
    gates: list[Gate] = field(default_factory=list)
    allow_unverified: bool = False
    reason: str | None = None
    removed: list[Any] = field(default_factory=list)  # going back: changes taken out
    removed_tickets: dict[str, str] = field(default_factory=dict)  # their tickets, raw status
    override_freeze: bool = False  # an admin deploys despite a freeze (with the reason)
    role: str | None = None  # the server's signed-in role of whoever asks; None: the CLI's

    @property
    def backward(self) -> bool:
        """Whether the deploy takes out changes the environment runs."""
        return bool(self.removed)

    @property
    def short_sha(self) -> str:
        return self.commit[:7]

    @property
    def refusal(self) -> str | None:
        return refusal(self.environment, self.gates)

    @property
    def unverified(self) -> list[str]:
        return unverified(self.tickets)


# -- resolving what the user asked for ---------------------------------------------------------


def resolve_ref(ctx: Context, ref: str) -> tuple[str, str | None]:
    """The commit a ref names, and the release tag when it is one."""
    commit, release_tag, _ = _resolve(ctx, ref)
    return commit, release_tag


def _resolve(ctx: Context, ref: str) -> tuple[str, str | None, bool]:
    """The commit, the release tag, and whether ``ref`` is a git tag or a SHA (a name
    that does not move)."""
    from shipyard.core.tags import is_release_tag

    if ref.startswith("-") or not ref.strip():
        raise InvalidRef(f"not a ref: {ref!r}")
    target = ctx.git.tag_target(ref)
    if target is not None:
        return target, ref if is_release_tag(ref) else None, True
    if HEX_RE.match(ref):
        with ctx.store.read() as s:
            build = find_build(s, ctx.app_id, ref)
        if build is not None:
            return build.sha, None, True
    if is_release_tag(ref):
        raise NotFound(f"no release tag {ref} in {ctx.settings.repo_path.name}")
    sha = ctx.git.rev_parse(ref)
    if sha is None:
        raise NotFound(f"no tag or commit named {ref!r}")
    return sha, None, bool(HEX_RE.match(ref))


def plan(
    ctx: Context,
    environment: str,
    ref: str,
    *,
    kind: str = "deploy",
    allow_unverified: bool = False,
    reason: str | None = None,
    override_freeze: bool = False,
    role: str | None = None,
) -> Plan:
    """Everything a deploy of ``ref`` to ``environment`` would do, and whether it may.

    The tickets come from the git range between what the environment runs (else the
    release tag before ``ref``) and ``ref``; going back lists what it takes out."""
    from shipyard.core.tags import env_tag_ref, format_env_tag

    cfg = ctx.settings.environment(environment)
    if allow_unverified and not (reason or "").strip():
        raise ShipyardError('--allow-unverified needs --reason "..." saying why')
    if kind != "rollback" and not cfg.accepts_ref(ref):
        raise InvalidRef(f"{environment} does not accept {ref!r}: it must match {cfg.accepts}")
    commit, release_tag, fixed = _resolve(ctx, ref)
    known = _stored(ctx, environment, commit)
    build, current = known.build, known.current
    moves = _moves(ctx, current.commit if current else None, commit)
    ask = _Ask(environment, kind, allow_unverified, reason, override_freeze, role)
    return Plan(
        environment=environment,
        ref=ref,
        kind=kind,
        commit=commit,
        tag=format_env_tag(cfg.tag, env_tag_ref(ref, commit, fixed=fixed)),
        build_id=build.id if build else None,
        build_status=build.status if build else None,
        release_tag=release_tag,
        current_commit=current.commit if current else None,
        current_ref=current.ref if current else None,
        changes=moves.changes,
        tickets=moves.tickets,
        gates=evaluate(_facts(ctx, ask, commit, known, moves)),
        allow_unverified=allow_unverified,
        reason=reason,
        removed=moves.removed,
        removed_tickets=moves.removed_tickets,
        override_freeze=override_freeze,
        role=role,
    )


@dataclass(frozen=True)
class _Ask:
    """What the deploy asks for, as ``plan`` was called."""

    environment: str
    kind: str
    allow_unverified: bool
    reason: str | None
    override_freeze: bool
    role: str | None


@dataclass
class _Stored:
    """What the database knows that the gates read: the build, its failed checks, how
    long it soaked upstream, what the environment runs and the last E2E run."""

    build: Build | None
    failed: list[str]
    soaked: float | None
    current: Deployment | None
    e2e: E2ERun | None


def _stored(ctx: Context, environment: str, commit: str) -> _Stored:
    cfg = ctx.settings.environment(environment)
    with ctx.store.read() as s:
        build = find_build(s, ctx.app_id, commit)
        failed = [c.name for c in checks_of(s, build.id) if c.status == "failed"] if build else []
        return _Stored(
            build=build,
            failed=failed,
            soaked=_soaked(ctx, s, cfg.after, build),
            current=current_of(s, ctx.environment_row(s, environment)),
            e2e=last_e2e_run(s, ctx.app_id, environment, commit) if cfg.e2e else None,
        )


def _facts(ctx: Context, ask: _Ask, commit: str, known: _Stored, moves: _Moves) -> DeployFacts:
    """The facts every gate decides from (``core.gates``)."""
    cfg = ctx.settings.environment(ask.environment)
    main = ctx.settings.app.main
    head = ctx.git.head_of(main)
    build, e2e = known.build, known.e2e
    return DeployFacts(
        environment=ask.environment,
        short_sha=commit[:7],
        on_main=head is not None and ctx.git.is_ancestor(commit, head),
        main_branch=main,
        build_status=build.status if build else None,
        artifact=build.artifact_digest if build else None,
        collected=build is not None and build.artifact_collected_at is not None,
        image=ctx.settings.artifacts.image_of(commit),
        failed_checks=known.failed,
        upstream=cfg.after,
        upstream_ok=cfg.after is None or known.soaked is not None,
        soak=cfg.soak,
        soaked=known.soaked,
        require_qa=cfg.require_qa,
        tickets=moves.tickets,
        allow_unverified=ask.allow_unverified,
        reason=ask.reason,
        skip_qa=ask.kind == "rollback",
        removed_changes=len(moves.removed),
        removed_tickets=list(moves.removed_tickets),
        e2e_upstream=cfg.after if cfg.e2e else None,
        e2e_status=e2e.status if e2e else None,
        e2e_run=e2e.id if e2e else None,
        **_freeze_facts(ctx, ask.environment, ask.override_freeze, ask.role),
    )


def _freeze_facts(
    ctx: Context, environment: str, override: bool, role: str | None
) -> dict[str, Any]:
    """The freezes on ``environment`` now, and whether whoever asks may override them."""
    frozen = [w.describe() for w in freezes.frozen(ctx, environment)]
    admin = bool(frozen) and override and freezes.is_admin(ctx, role)
    return {"frozen": frozen, "override_freeze": override, "admin": admin}


def _soaked(ctx: Context, s: Session, after: str | None, build: Build | None) -> float | None:
    """Seconds since ``build`` first succeeded on the upstream environment ``after``; None
    when it never did (or there is no upstream). Whether it still runs there does not
    matter: what runs there later contains it."""
    if after is None or build is None:
        return None
    up = ctx.environment_row(s, after)
    first = s.execute(
        select(func.min(Deployment.finished_at)).where(
            Deployment.environment_id == up.id,
            Deployment.build_id == build.id,
            Deployment.state == st.SUCCEEDED,
        )
    ).scalar_one_or_none()
    if first is None:
        return None
    return (datetime.now(UTC) - first.replace(tzinfo=first.tzinfo or UTC)).total_seconds()


@dataclass
class _Moves:
    changes: list[Any]
    tickets: dict[str, str]
    removed: list[Any]
    removed_tickets: dict[str, str]


def _moves(ctx: Context, running: str | None, commit: str) -> _Moves:
    """What a move from ``running`` to ``commit`` brings in and takes out, with raw statuses."""
    base = range_base(ctx, running, commit)
    removed: list[Any] = []
    if running is not None and not ctx.git.is_ancestor(running, commit):
        removed = changes_between(ctx, commit, running)
        if ctx.git.is_ancestor(commit, running):
            base = commit  # straight back: nothing comes in
    changes = changes_between(ctx, base, commit)
    keys, gone = tickets_of(changes), tickets_of(removed)
    with ctx.store.read() as s:
        tickets = ctx.tracker.raw_statuses(s, keys)
        removed_tickets = ctx.tracker.raw_statuses(s, gone)
    return _Moves(changes, tickets, removed, removed_tickets)


def rollback_plan(ctx: Context, environment: str, reason: str | None = None) -> Plan:
    """Return ``environment`` to its previous successful deployment; ``reason`` is required."""
    ctx.settings.environment(environment)
    if not (reason or "").strip():
        raise ShipyardError(f'a rollback of {environment} needs --reason "..." saying why')
    with ctx.store.read() as s:
        env = ctx.environment_row(s, environment)
        current = current_of(s, env)
        if current is None:
            raise Refused(f"{environment} has no deployment to roll back")
        prev = rollback_target(s, env, current)  # what gc keeps too (services.gc)
    if prev is None:  # a rule refuses it (exit 3, 409): nothing is missing from the request
        raise Refused(f"{environment} has no earlier successful deployment to return to")
    return plan(ctx, environment, prev.ref, kind="rollback", reason=reason)
