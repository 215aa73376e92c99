"""The tables. One schema for SQLite and PostgreSQL; Alembic migrations mirror it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shipyard.core.states import ACTIVE_STATES


class Base(DeclarativeBase):
    pass


class App(Base):
    __tablename__ = "apps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    repo: Mapped[str] = mapped_column(Text)
    baseline_sha: Mapped[str | None] = mapped_column(String(64))
    last_seen_sha: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Build(Base):
    __tablename__ = "builds"
    __table_args__ = (
        UniqueConstraint("app_id", "sha"),
        Index("ix_builds_app_short", "app_id", "short_sha"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    sha: Mapped[str] = mapped_column(String(64))
    short_sha: Mapped[str] = mapped_column(String(12))
    subject: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(Text)
    # pending -> running -> passed | failed
    status: Mapped[str] = mapped_column(String(16))
    artifact_digest: Mapped[str | None] = mapped_column(String(80))
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When ``shipyard gc`` removed its artifact (None: never); a deploy of it is refused.
    artifact_collected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Check(Base):
    __tablename__ = "checks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("builds.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # running | passed | failed
    exit_code: Mapped[int | None] = mapped_column(Integer)
    log: Mapped[str] = mapped_column(Text, default="")
    duration: Mapped[float | None] = mapped_column(Float)


class Environment(Base):
    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("app_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    name: Mapped[str] = mapped_column(String(64))
    # No foreign key: environments and deployments would reference each other.
    current_deployment_id: Mapped[int | None] = mapped_column(Integer)
    pinned_by: Mapped[str | None] = mapped_column(Text)
    pinned_reason: Mapped[str | None] = mapped_column(Text)
    # What waits upstream, computed when it last changed (see services.status.refresh_waiting):
    # valid while (waiting_base, waiting_head) still names what runs here and upstream.
    waiting_base: Mapped[str | None] = mapped_column(String(64))
    waiting_head: Mapped[str | None] = mapped_column(String(64))
    waiting_changes: Mapped[int | None] = mapped_column(Integer)
    waiting_tickets: Mapped[str | None] = mapped_column(Text)  # JSON list of ticket keys
    # The config version the running instances started with (None: none recorded).
    config_version: Mapped[int | None] = mapped_column(Integer)


# The database itself guarantees one deployment in flight per environment: a unique
# index over the deployments in an active state. Its predicate is given to the dialect
# that creates it (SQLite's or PostgreSQL's ``where``) when it is created: naming both
# dialects' options here would load PostgreSQL's dialect and its drivers into every
# process, SQLite's included (migration 0001 creates it the same way).
_ONE_ACTIVE = Index("uq_deployments_one_active", "environment_id", unique=True)


@event.listens_for(_ONE_ACTIVE, "before_create")
def _only_active(index: Index, connection: Any, **_kw: Any) -> None:
    active = ", ".join(repr(s) for s in sorted(ACTIVE_STATES))
    index.dialect_options[connection.dialect.name]["where"] = text(f"state IN ({active})")


class Deployment(Base):
    __tablename__ = "deployments"
    __table_args__ = (_ONE_ACTIVE, Index("ix_deployments_env_state", "environment_id", "state"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    build_id: Mapped[int | None] = mapped_column(ForeignKey("builds.id"))
    commit: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(128))
    tag: Mapped[str] = mapped_column(String(160))
    tag_created: Mapped[bool] = mapped_column(Boolean, default=False)
    digest: Mapped[str | None] = mapped_column(String(80))  # the artifact the tag named
    kind: Mapped[str] = mapped_column(String(16))  # deploy | auto | rollback
    state: Mapped[str] = mapped_column(String(24))
    requested_by: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    previous_deployment_id: Mapped[int | None] = mapped_column(Integer)
    owner: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # JSON: the verdict of the checks after the switch and their readings (services.deploy.watch)
    verification: Mapped[str | None] = mapped_column(Text)
    # Asked with --allow-unverified: the run after the last approval plans with it again.
    allow_unverified: Mapped[bool | None] = mapped_column(Boolean)


class Approval(Base):
    """One user's approval of a deployment awaiting approval (services.deploy.approval)."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("deployment_id", "user", name="uq_approvals_user"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    user: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("app_id", "tag"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    tag: Mapped[str] = mapped_column(String(64))
    sha: Mapped[str] = mapped_column(String(64))
    previous_tag: Mapped[str | None] = mapped_column(String(64))
    notes_markdown: Mapped[str] = mapped_column(Text)
    notes_json: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    latest: Mapped[bool] = mapped_column(Boolean, default=False)
    latest_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("app_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    key: Mapped[str] = mapped_column(String(64))
    # merged | verified | rejected | promoted
    status: Mapped[str] = mapped_column(String(16))
    promoted_to: Mapped[str | None] = mapped_column(String(64))
    first_sha: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The status name the tracker's webhook last reported (Jira), and when it arrived.
    tracker_status: Mapped[str | None] = mapped_column(String(255))
    tracker_status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Append-only, hash-chained. ``prev_hash`` is unique, so the chain cannot fork."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(Text)
    app: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # viewer | engineer | qa | releaser | admin
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    """An API token, stored only as a hash; shown once when created."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One delivery received from a forge or CI for one app; its (source, app, id) makes a
    redelivery a no-op. ``app`` is "" for a delivery that belongs to no app (a bad
    signature, a repository no app follows), and on rows recorded before deliveries
    named their app (the server's own then)."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    app: Mapped[str] = mapped_column(String(64), default="", server_default="")
    delivery_id: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        UniqueConstraint(
            "source", "app", "delivery_id", name="uq_webhook_deliveries_source_app_delivery_id"
        ),
    )


class Lease(Base):
    """A named lease: several servers on one database agree on who runs a job."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScheduledRun(Base):
    """One run of a scheduled job for one slot; unique, so a slot runs once."""

    __tablename__ = "scheduled_runs"
    __table_args__ = (UniqueConstraint("app_id", "job", "slot"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    job: Mapped[str] = mapped_column(String(64))
    slot: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    runner: Mapped[str] = mapped_column(Text)


class ForgePullRequest(Base):
    """What the forge said of one PR of one app's repository (``store/forge_cache.py``).
    ``title`` None: the forge has no PR of that number."""

    __tablename__ = "forge_pull_requests"
    __table_args__ = (
        UniqueConstraint(
            "app_id", "repository", "number", name="uq_forge_pull_requests_app_repo_number"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    repository: Mapped[str] = mapped_column(String(140))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(100))
    labels: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of names
    url: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(String(200))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConfigVersion(Base):
    """One version of an environment's variables: a full snapshot (``config_entries``).
    pending (a change request) -> active -> superseded, or pending -> rejected."""

    __tablename__ = "config_versions"
    __table_args__ = (
        UniqueConstraint("environment_id", "version", name="uq_config_versions_env_version"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    version: Mapped[int] = mapped_column(Integer)
    base_version: Mapped[int] = mapped_column(Integer)  # the active version it was made from
    state: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)


class ConfigEntry(Base):
    """One variable of one version: a plain value, a sealed secret or a reference
    (JSON ``{"env": NAME}`` or ``{"file": PATH}``), and when its value last changed."""

    __tablename__ = "config_entries"
    __table_args__ = (UniqueConstraint("version_id", "name", name="uq_config_entries_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("config_versions.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # plain | secret | ref
    value: Mapped[str] = mapped_column(Text)
    changed_in: Mapped[int] = mapped_column(Integer)
    changed_by: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccessGrant(Base):
    """Time-bound access to an environment's secret values: pending -> active | rejected;
    an active grant ends at ``expires_at`` by itself."""

    __tablename__ = "access_grants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"), index=True)
    user: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    seconds: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OwedRerevert(Base):
    """A change reverted on purpose that must come back: owed until its re-revert lands on
    main (``services/reverts.py``). ``sha`` is the reverted commit on main; ``revert_sha``
    the revert commit made (on ``branch``, or in the forge's PR ``revert_pr``)."""

    __tablename__ = "owed_rereverts"
    __table_args__ = (Index("ix_owed_rereverts_app_open", "app_id", "cleared_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    sha: Mapped[str] = mapped_column(String(64))
    pr: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    tickets: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of keys
    reason: Mapped[str] = mapped_column(Text)
    reverted_by: Mapped[str] = mapped_column(Text)
    reverted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    branch: Mapped[str] = mapped_column(String(255))
    revert_sha: Mapped[str | None] = mapped_column(String(64))
    revert_pr: Mapped[int | None] = mapped_column(Integer)
    revert_url: Mapped[str | None] = mapped_column(Text)
    # Set when the re-revert lands on main: the commit that brought the change back.
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cleared_by_sha: Mapped[str | None] = mapped_column(String(64))


class Freeze(Base):
    """A freeze started by hand (``services.freezes``); those set in the file are not
    stored. ``environment`` None: every environment; ``ends_at`` None: until ended."""

    __tablename__ = "freezes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"), index=True)
    environment: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class E2ERun(Base):
    """One run of an environment's ``e2e`` command against its upstream's URL, on the
    commit the upstream ran (``services.e2e``)."""

    __tablename__ = "e2e_runs"
    __table_args__ = (Index("ix_e2e_runs_app_env_commit", "app_id", "environment", "commit"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    environment: Mapped[str] = mapped_column(String(64))  # whose gate it is
    upstream: Mapped[str] = mapped_column(String(64))  # what it ran against
    commit: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # running | passed | failed
    exit_code: Mapped[int | None] = mapped_column(Integer)
    log: Mapped[str] = mapped_column(Text, default="")
    duration: Mapped[float | None] = mapped_column(Float)
    requested_by: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
