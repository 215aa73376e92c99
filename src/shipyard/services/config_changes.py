"""Changing an environment's variables: change requests, the second person, the diff.

``propose`` writes a new version made from the active one (a change request); with
``config_approvals = 1`` it stays pending until ``approve`` by another user whose role
may approve, else it is active at once. A check-and-set (``cas``: the version the
change was made against, Vault KV v2 style) refuses a change made on a stale view,
and approval refuses a request whose base is no longer active. Every step is audited
with variable names only, never a value.

    propose(ctx, "prod", [Change("API_KEY", "secret", value)], cas=3)   # -> version 4
    approve(ctx, "prod", 4)                                             # by someone else
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.core.environ import NAME_RE, OWN_PREFIX
from shipyard.core.permissions import allowed_roles
from shipyard.errors import NotFound, Refused, ShipyardError
from shipyard.services import envconfig as ec
from shipyard.services.context import Context
from shipyard.store import audit
from shipyard.store.models import ConfigEntry, ConfigVersion

KINDS = ("plain", "secret", "ref", "unset")
MAX_VALUE = 64_000


@dataclass(frozen=True)
class Change:
    """Set ``name`` (``plain``, ``secret``, ``ref``: ``env:NAME`` or ``file:/PATH``) or
    remove it (``unset``)."""

    name: str
    kind: str
    value: str = ""


@dataclass(frozen=True)
class Proposed:
    environment: str
    version: int
    active: bool  # activated at once (no approval needed)


@dataclass(frozen=True)
class DiffLine:
    name: str
    change: str  # added | changed | removed
    old: str | None
    new: str | None


def _check(change: Change) -> str:
    """The value as stored (a reference as JSON); ShipyardError on a bad one."""
    if not NAME_RE.match(change.name) or len(change.name) > 128:
        raise ShipyardError(f"{change.name!r} is not an environment variable name")
    if change.name.startswith(OWN_PREFIX):
        raise ShipyardError(f"{change.name!r} is Shipyard's own; an app never gets it")
    if change.kind not in KINDS:
        raise ShipyardError(f"unknown kind {change.kind!r} (one of: {', '.join(KINDS)})")
    if len(change.value) > MAX_VALUE or "\x00" in change.value:
        raise ShipyardError(f"{change.name}: a value is text of at most {MAX_VALUE} characters")
    if change.kind != "ref":
        return change.value
    where, _, what = change.value.partition(":")
    if where == "env" and NAME_RE.match(what):
        return json.dumps({"env": what})
    if where == "file" and what.startswith("/"):
        return json.dumps({"file": what})
    raise ShipyardError(f"{change.name}: a reference is env:NAME or file:/absolute/path")


@dataclass(frozen=True)
class _Draft:
    """A checked change request, ready to be written as the next version."""

    environment: str
    changes: list[Change]
    values: dict[str, str]  # by name, as stored (a secret sealed, a reference as JSON)
    cas: int | None
    immediate: bool  # active at once (``config_approvals = 0``)
    actor: str
    now: datetime


def propose(
    ctx: Context, environment: str, changes: list[Change], *, cas: int | None = None
) -> Proposed:
    """A new version of ``environment``'s variables with ``changes`` applied."""
    ec.require(ctx, "config")
    cfg = ctx.settings.environment(environment)
    if cfg.runtime != "local":
        raise ShipyardError(
            f"{environment} runs on {cfg.runtime}: its pods never get Shipyard's stored "
            "variables; keep them in the cluster (a Kubernetes Secret the overlay references, "
            "encrypted with SOPS or Sealed Secrets in the manifests repository: docs/secrets.md)"
        )
    draft = _Draft(
        environment=environment,
        changes=changes,
        values=_stored_values(ctx, environment, changes),
        cas=cas,
        immediate=cfg.config_approvals == 0,
        actor=ctx.actor,
        now=datetime.now(UTC),
    )
    done = ctx.store.retrying(lambda s: _write_version(s, ctx, draft))
    if done.active:
        _after_activation(ctx, environment)
    return done


def _stored_values(ctx: Context, environment: str, changes: list[Change]) -> dict[str, str]:
    """Each change's value as stored, secrets sealed; ShipyardError on a bad change."""
    if not changes:
        raise ShipyardError("name at least one variable to set or unset")
    values = {c.name: _check(c) for c in changes}
    if len(values) != len(changes):
        raise ShipyardError("each variable may be named once per change")
    secrets = [c for c in changes if c.kind == "secret"]
    if secrets:
        ring = ec.keyring(ctx)
        for c in secrets:
            values[c.name] = ring.seal(c.value, ec.seal_context(ctx.app_name, environment, c.name))
        ctx.scrubber.add(c.value for c in secrets)  # from now on, never shown by this process
    return values


def _write_version(s: Session, ctx: Context, draft: _Draft) -> Proposed:
    """The next version, made from the active one (one transaction)."""
    env = ctx.environment_row(s, draft.environment)
    active = ec.active_version(s, env.id)
    current = active.version if active else 0
    if draft.cas is not None and draft.cas != current:
        raise Refused(
            f"check-and-set failed: {draft.environment}'s config is at version {current}, "
            f"not {draft.cas}; look again ('shipyard config {draft.environment}')",
            version=current,
        )
    number = _last_number(s, env.id) + 1
    kept = {e.name: e for e in ec.entries_of(s, active)}
    for c in draft.changes:
        if c.kind == "unset" and c.name not in kept:
            raise NotFound(f"{draft.environment} has no variable {c.name} to unset")
    row = ConfigVersion(
        environment_id=env.id,
        version=number,
        base_version=current,
        state="active" if draft.immediate else "pending",
        created_by=draft.actor,
        created_at=draft.now,
        decided_by=draft.actor if draft.immediate else None,
        decided_at=draft.now if draft.immediate else None,
    )
    s.add(row)
    if draft.immediate and active is not None:
        active.state = "superseded"
    s.flush()
    _write_entries(s, row, kept, draft)
    _audit_proposal(s, ctx, draft, number, current)
    return Proposed(draft.environment, number, draft.immediate)


def _last_number(s: Session, environment_id: int) -> int:
    """The highest version number ``environment_id`` has used (0: none yet)."""
    last = s.execute(
        select(func.max(ConfigVersion.version)).where(
            ConfigVersion.environment_id == environment_id
        )
    ).scalar_one()
    return last or 0


def _audit_proposal(s: Session, ctx: Context, draft: _Draft, number: int, base: int) -> None:
    """Audited with variable names only, never a value."""
    audit.append(
        s,
        actor=draft.actor,
        app=ctx.app_name,
        action="config.activated" if draft.immediate else "config.requested",
        subject=draft.environment,
        data={
            "version": number,
            "base": base,
            "set": sorted(c.name for c in draft.changes if c.kind != "unset"),
            "unset": sorted(c.name for c in draft.changes if c.kind == "unset"),
            "secrets": sorted(c.name for c in draft.changes if c.kind == "secret"),
        },
    )


def _write_entries(
    s: Session, row: ConfigVersion, kept: dict[str, ConfigEntry], draft: _Draft
) -> None:
    """Every variable of version ``row``: a changed one as new, the others carried over
    (with the version, person and time of their last change)."""
    by_name = {c.name: c for c in draft.changes}
    names = (set(kept) | set(by_name)) - {c.name for c in draft.changes if c.kind == "unset"}
    for name in sorted(names):
        old = kept.get(name)
        change = by_name.get(name)
        if change is None or (
            old is not None
            and old.kind == change.kind == "plain"
            and old.value == draft.values[name]
        ):
            assert old is not None
            s.add(_carried(row, old))
        else:
            s.add(_changed(row, change, draft))


def _carried(row: ConfigVersion, old: ConfigEntry) -> ConfigEntry:
    """``old`` in version ``row``, as it was."""
    return ConfigEntry(
        version_id=row.id,
        name=old.name,
        kind=old.kind,
        value=old.value,
        changed_in=old.changed_in,
        changed_by=old.changed_by,
        changed_at=old.changed_at,
    )


def _changed(row: ConfigVersion, change: Change, draft: _Draft) -> ConfigEntry:
    """``change`` in version ``row``, made now by the draft's author."""
    return ConfigEntry(
        version_id=row.id,
        name=change.name,
        kind=change.kind,
        value=draft.values[change.name],
        changed_in=row.version,
        changed_by=draft.actor,
        changed_at=draft.now,
    )


def _pending(s: Session, ctx: Context, environment: str, version: int) -> ConfigVersion:
    env = ctx.environment_row(s, environment)
    row = s.execute(
        select(ConfigVersion).where(
            ConfigVersion.environment_id == env.id, ConfigVersion.version == version
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"{environment} has no config version {version}")
    if row.state != "pending":
        raise Refused(f"config version {version} of {environment} is {row.state}, not pending")
    return row


def approve(ctx: Context, environment: str, version: int) -> Proposed:
    """Make pending ``version`` active; refused to its author and on a stale base."""
    ec.require(ctx, "config_approve")

    def write(s: Session) -> Proposed:
        row = _pending(s, ctx, environment, version)
        if row.created_by == ctx.actor:
            who = " or ".join(sorted(allowed_roles("config_approve")))
            raise Refused(
                f"you cannot approve your own change (version {version}): "
                f"another person with role {who} must"
            )
        active = ec.active_version(s, row.environment_id)
        current = active.version if active else 0
        if current != row.base_version:
            raise Refused(
                f"config version {version} of {environment} was made from version "
                f"{row.base_version}, but version {current} is active now: make the change "
                "again on it"
            )
        if active is not None:
            active.state = "superseded"
            s.flush()
        row.state, row.decided_by, row.decided_at = "active", ctx.actor, datetime.now(UTC)
        audit.append(
            s,
            actor=ctx.actor,
            app=ctx.app_name,
            action="config.approved",
            subject=environment,
            data={"version": version, "author": row.created_by},
        )
        return Proposed(environment, version, True)

    done = ctx.store.retrying(write)
    _after_activation(ctx, environment)
    return done


def reject(ctx: Context, environment: str, version: int, reason: str) -> None:
    """Close pending ``version`` without activating it."""
    ec.require(ctx, "config_approve")
    if not reason.strip():
        raise ShipyardError("say why (--reason)")

    def write(s: Session) -> None:
        row = _pending(s, ctx, environment, version)
        row.state, row.decided_by, row.decided_at = "rejected", ctx.actor, datetime.now(UTC)
        row.reason = reason
        audit.append(
            s,
            actor=ctx.actor,
            app=ctx.app_name,
            action="config.rejected",
            subject=environment,
            data={"version": version, "author": row.created_by, "reason": reason},
        )

    ctx.store.retrying(write)


def _after_activation(ctx: Context, environment: str) -> None:
    """This process's scrubber learns the now active secrets; with ``restart_on_change``,
    running instances restart onto the new version."""
    ctx.scrubber.add(ec.active_secrets(ctx, environment))
    if not ctx.settings.environment(environment).restart_on_change:
        return
    from shipyard.services.restart import restart

    with ctx.store.read() as s:
        deployed = ctx.environment_row(s, environment).current_deployment_id is not None
    if deployed:
        restart(ctx, environment)


def diff(ctx: Context, environment: str, version: int) -> tuple[int, list[DiffLine]]:
    """(base version, what ``version`` changes against it); secrets stay masked."""
    with ctx.store.read() as s:
        env = ctx.environment_row(s, environment)
        rows = {
            r.version: r
            for r in s.execute(
                select(ConfigVersion).where(ConfigVersion.environment_id == env.id)
            ).scalars()
        }
        row = rows.get(version)
        if row is None:
            raise NotFound(f"{environment} has no config version {version}")
        new = {e.name: e for e in ec.entries_of(s, row)}
        old = {e.name: e for e in ec.entries_of(s, rows.get(row.base_version))}
    lines = []
    for name in sorted(set(new) | set(old)):
        a, b = old.get(name), new.get(name)
        if a is None and b is not None:
            lines.append(DiffLine(name, "added", None, ec.shown(b)))
        elif b is None and a is not None:
            lines.append(DiffLine(name, "removed", ec.shown(a), None))
        elif a is not None and b is not None and b.changed_in == version:
            lines.append(DiffLine(name, "changed", ec.shown(a), ec.shown(b)))
    return row.base_version, lines


def versions(ctx: Context, environment: str) -> list[ConfigVersion]:
    """Every version of ``environment``'s variables, newest first."""
    with ctx.store.read() as s:
        env = ctx.environment_row(s, environment)
        return list(
            s.execute(
                select(ConfigVersion)
                .where(ConfigVersion.environment_id == env.id)
                .order_by(ConfigVersion.version.desc())
            ).scalars()
        )
