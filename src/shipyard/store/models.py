"""The tables. One schema for SQLite and PostgreSQL; Alembic migrations mirror it."""

from __future__ import annotations

from datetime import datetime

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


class Deployment(Base):
    __tablename__ = "deployments"
    __table_args__ = (
        # The database itself guarantees one deployment in flight per environment.
        Index(
            "uq_deployments_one_active",
            "environment_id",
            unique=True,
            sqlite_where=text(f"state IN ({', '.join(repr(s) for s in sorted(ACTIVE_STATES))})"),
            postgresql_where=text(
                f"state IN ({', '.join(repr(s) for s in sorted(ACTIVE_STATES))})"
            ),
        ),
        Index("ix_deployments_env_state", "environment_id", "state"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    build_id: Mapped[int | None] = mapped_column(ForeignKey("builds.id"))
    commit: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(128))
    tag: Mapped[str] = mapped_column(String(160))
    tag_created: Mapped[bool] = mapped_column(Boolean, default=False)
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
