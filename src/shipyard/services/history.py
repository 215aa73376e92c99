"""History across every app: deployments and audit records, filtered and a page at a time.

``read_history(store, Filters(app="monitor"), page=2)`` gives the second page of
each list, newest first, and whether older entries exist. Each audit record comes
with a sentence a person reads ("qa@example.com verified MNTOR-12").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, or_, select

from shipyard.store.db import Store
from shipyard.store.models import App, AuditEvent, Deployment, Environment

PER_PAGE = 50


@dataclass(frozen=True)
class Filters:
    app: str = ""
    environment: str = ""
    user: str = ""


@dataclass(frozen=True)
class DeploymentRow:
    deployment: Deployment
    environment: str
    app: str


@dataclass(frozen=True)
class EventRow:
    event: AuditEvent
    sentence: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class History:
    apps: list[str]
    environments: list[str]
    deployments: list[DeploymentRow]
    events: list[EventRow]
    page: int
    older: bool  # either list goes on past this page


def read_history(store: Store, filters: Filters, page: int = 1) -> History:
    """One page (from 1) of deployments and audit records matching ``filters``."""
    page = max(page, 1)
    offset = (page - 1) * PER_PAGE
    with store.read() as db:
        apps = list(db.execute(select(App.name).order_by(App.name)).scalars())
        envs = list(
            db.execute(select(Environment.name).distinct().order_by(Environment.name)).scalars()
        )
        deps = db.execute(_deployments(filters).offset(offset).limit(PER_PAGE + 1)).all()
        events = list(db.execute(_events(filters).offset(offset).limit(PER_PAGE + 1)).scalars())
    return History(
        apps=apps,
        environments=envs,
        deployments=[DeploymentRow(d, env, app) for d, env, app in deps[:PER_PAGE]],
        events=[_row(e) for e in events[:PER_PAGE]],
        page=page,
        older=len(deps) > PER_PAGE or len(events) > PER_PAGE,
    )


def _deployments(f: Filters) -> Select[Deployment, str, str]:
    q = (
        select(Deployment, Environment.name, App.name)
        .join(Environment, Environment.id == Deployment.environment_id)
        .join(App, App.id == Deployment.app_id)
    )
    if f.app:
        q = q.where(App.name == f.app)
    if f.environment:
        q = q.where(Environment.name == f.environment)
    if f.user:
        q = q.where(Deployment.requested_by == f.user)
    return q.order_by(Deployment.id.desc())


def _events(f: Filters) -> Select[Any]:
    q = select(AuditEvent)
    if f.app:
        q = q.where(AuditEvent.app == f.app)
    if f.environment:
        env = f.environment
        q = q.where(or_(AuditEvent.subject == env, AuditEvent.subject.startswith(f"{env}#")))
    if f.user:
        q = q.where(AuditEvent.actor == f.user)
    return q.order_by(AuditEvent.id.desc())


def _row(e: AuditEvent) -> EventRow:
    try:
        data = json.loads(e.data or "{}")
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    return EventRow(e, sentence(e.action, e.actor, e.subject, data), data)


# What each action says; {actor}, {subject} and the record's data fill it.
SENTENCES = {
    "deployment.refused": "{actor} was refused deploying {ref} to {subject}: {reason}",
    "deployment.queued": "{actor} asked for {ref} on {env}",
    "deployment.succeeded": "{env} now runs {ref} (deployment #{number})",
    "deployment.failed": "deployment #{number} of {ref} to {env} failed: {error}",
    "build.recorded": "{actor} recorded the build of {subject}",
    "build.passed": "the build of {subject} passed its checks",
    "build.failed": "the build of {subject} failed: {reason}",
    "ticket.merged": "{subject} was merged to main",
    "ticket.verified": "{actor} verified {subject}",
    "ticket.rejected": "{actor} rejected {subject}: {reason}",
    "ticket.promoted": "{subject} was promoted to {environment}",
    "release.prerelease": "{actor} cut the pre-release {subject} ({changes} changes)",
    "environment.unpinned": "{actor} unpinned {subject}",
    "freeze.started": "{actor} froze {subject}: {reason}",
    "freeze.ended": "{actor} ended the freeze on {subject}",
    "freeze.overridden": "{actor} deployed {ref} to {env} despite the freeze: {reason}",
    "e2e.passed": "the E2E run #{number} for {env} passed on {commit}",
    "e2e.failed": "the E2E run #{number} for {env} failed on {commit}",
    "user.added": "{actor} added the user {subject} as {role}",
    "token.created": "{actor} created a token for {subject} ({name})",
    "app.created": "{actor} started tracking the app {subject}",
}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def sentence(action: str, actor: str, subject: str, data: dict[str, Any]) -> str:
    """A readable line for one audit record; unknown actions say what they are plainly."""
    env, _, number = subject.partition("#")
    values = _Blank(
        {k: ("?" if v in (None, "") else v) for k, v in data.items()},
        actor=actor,
        subject=subject,
        env=env,
        number=number,
    )
    template = SENTENCES.get(action)
    if template is None and action.startswith("deployment."):
        template = "deployment #{number} of {ref} to {env}: " + action.removeprefix("deployment.")
        template = template.replace("_", " ")
    if template is None:
        return f"{actor}: {action.replace('.', ' ').replace('_', ' ')} {subject}".rstrip()
    text = template.format_map(values)
    return text.replace(": ?", "").replace(" (? changes)", "")


@dataclass(frozen=True)
class Signoff:
    """QA's last word on a ticket: verified or rejected, by whom, when (and why)."""

    status: str
    by: str
    at: Any  # datetime (UTC)
    reason: str | None = None


def signoffs(store: Store, app: str, keys: list[str]) -> dict[str, Signoff]:
    """The newest QA sign-off of each of ``keys`` on ``app``, from the audit log (a ticket
    promoted since keeps who verified it there, not on its own row)."""
    if not keys:
        return {}
    out: dict[str, Signoff] = {}
    with store.read() as db:
        rows = db.execute(
            select(AuditEvent)
            .where(AuditEvent.app == app)
            .where(AuditEvent.action.in_(("ticket.verified", "ticket.rejected")))
            .where(AuditEvent.subject.in_(sorted(set(keys))))
            .order_by(AuditEvent.id)
        ).scalars()
        for e in rows:
            reason = _row(e).data.get("reason")
            out[e.subject] = Signoff(
                e.action.removeprefix("ticket."), e.actor, e.at, str(reason) if reason else None
            )
    return out
