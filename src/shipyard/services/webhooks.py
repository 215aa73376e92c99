"""Webhooks in: who may send them, what a delivery changes, and the ingest they trigger.

Every delivery is recorded in ``webhook_deliveries`` with its outcome:

    accepted   it changed something (or was a ping); an audit record says what
    ignored    another repository or branch, or nothing to do (answered 202)
    duplicate  a redelivery of an id already accepted or ignored; nothing done
    rejected   a bad signature or token, or a body that cannot be read

A push to main (or a pull request merged into it) runs ingest at once, in a
background thread: ``builds.sync``, or, when ``required_checks`` names checks an
external CI reports, ``record_new_builds`` and :func:`advance`. One ingest per
app runs at a time in this process; one requested meanwhile runs after it.

External checks: check results from GitHub (or ``POST /webhooks/build``) are
Check rows on the commit's build. With ``required_checks`` set, a pending build
passes when every required check has reported success and its artifact has been
produced (by ``builds.run_build``, which also runs any local ``[checks]``); it
fails as soon as a required check fails.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.config import Settings
from shipyard.core import github
from shipyard.errors import BadDelivery, ShipyardError, Unauthorized
from shipyard.services import builds
from shipyard.services.context import Context
from shipyard.store import audit
from shipyard.store.models import Build, Check, WebhookDelivery

log = logging.getLogger("shipyard.webhooks")

ACCEPTED, IGNORED, DUPLICATE, REJECTED = "accepted", "ignored", "duplicate", "rejected"
MAX_BODY = 5 * 1024 * 1024
DELIVERY_ID_LIMIT = 100


@dataclass(frozen=True)
class WebhookSettings:
    """What the webhook endpoints need; the ``[webhooks]`` section of the config.

    Secrets are values here (read from the environment), never written in a file.
    """

    github_secret: str | None = None
    build_token: str | None = None
    repository: str | None = None  # "org/name"; None accepts any repository
    required_checks: tuple[str, ...] = ()
    max_body: int = MAX_BODY

    @classmethod
    def from_settings(
        cls, settings: Settings, environ: Mapping[str, str] | None = None
    ) -> WebhookSettings:
        """The ``[webhooks]`` section, with its secrets read from the environment variables
        it names; the repository defaults to ``app.source`` when that names one."""
        env = os.environ if environ is None else environ
        cfg = settings.webhooks
        return cls(
            github_secret=env.get(cfg.github_secret.env) or None,
            build_token=env.get(cfg.build_token.env) or None,
            repository=cfg.repository or github.repository_name(settings.app.source),
            required_checks=tuple(cfg.required_checks),
            max_body=cfg.max_body,
        )


@dataclass
class Outcome:
    """What a delivery did, as the HTTP answer says it."""

    outcome: str
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> int:
        return 202 if self.outcome == IGNORED else 200

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": self.outcome, "detail": self.detail, **self.data}
        if self.outcome == DUPLICATE:
            out["duplicate"] = True
        return out


# -- authentication -----------------------------------------------------------------------------


def verify_signature(secret: str | None, body: bytes, header: str | None) -> None:
    """Raise Unauthorized unless ``header`` is ``sha256=<HMAC-SHA256 of body>``."""
    if not secret:
        raise Unauthorized("no GitHub webhook secret is configured; every delivery is refused")
    if not header or not header.startswith("sha256="):
        raise Unauthorized("missing or malformed X-Hub-Signature-256")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace")):
        raise Unauthorized("signature does not match the body")


def verify_bearer(token: str | None, header: str | None) -> None:
    """Raise Unauthorized unless ``header`` is ``Bearer <token>``."""
    if not token:
        raise Unauthorized("no build token is configured; every report is refused")
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), token.encode()
    ):
        raise Unauthorized("missing or wrong bearer token")


# -- decoding -----------------------------------------------------------------------------------


def decode_json(body: bytes, content_type: str | None = None) -> Any:
    """The JSON document of a body, also from GitHub's form encoding (``payload=...``)."""
    try:
        text = body.decode("utf-8")
        if (content_type or "").startswith("application/x-www-form-urlencoded"):
            values = parse_qs(text, strict_parsing=False).get("payload")
            if not values:
                raise BadDelivery("a form-encoded delivery needs a 'payload' field")
            text = values[0]
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        if isinstance(exc, BadDelivery):
            raise
        raise BadDelivery(f"the body is not valid JSON: {_short(str(exc))}") from None


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- deliveries ---------------------------------------------------------------------------------


def _delivery(
    source: str, delivery_id: str, event: str, outcome: str, detail: str
) -> WebhookDelivery:
    return WebhookDelivery(
        source=source,
        delivery_id=delivery_id[:128],
        event=event[:64],
        outcome=outcome,
        detail=_short(detail, 2000),
        received_at=datetime.now(UTC),
    )


def _unique_id(delivery_id: str, outcome: str) -> str:
    # A rejected or duplicate delivery gets a row of its own that can never
    # collide with (or stand in for) the real delivery of that id.
    return f"{delivery_id[:DELIVERY_ID_LIMIT]}#{outcome}-{uuid.uuid4().hex[:12]}"


def record_rejected(ctx: Context, source: str, delivery_id: str, event: str, reason: str) -> None:
    """Note a refused delivery; it never blocks a later valid delivery of the same id."""
    with ctx.store.write() as s:
        s.add(_delivery(source, _unique_id(delivery_id or "-", REJECTED), event, REJECTED, reason))


def _seen(session: Session, source: str, delivery_id: str) -> WebhookDelivery | None:
    return session.execute(
        select(WebhookDelivery).where(
            WebhookDelivery.source == source, WebhookDelivery.delivery_id == delivery_id
        )
    ).scalar_one_or_none()


def settle(
    ctx: Context,
    source: str,
    delivery_id: str,
    event: str,
    apply: Callable[[Session], Outcome],
) -> Outcome:
    """Run ``apply`` and record the delivery in one transaction, unless the id was seen."""

    def write(session: Session) -> Outcome:
        if _seen(session, source, delivery_id) is not None:
            session.add(_delivery(source, _unique_id(delivery_id, DUPLICATE), event, DUPLICATE, ""))
            return Outcome(DUPLICATE, f"delivery {delivery_id} was already received")
        outcome = apply(session)
        session.add(_delivery(source, delivery_id, event, outcome.outcome, outcome.detail))
        if outcome.outcome == ACCEPTED:
            audit.append(
                session,
                actor=ctx.actor,
                app=ctx.app_name,
                action=f"webhook.{source}.{event}",
                subject=delivery_id,
                data={"detail": outcome.detail, **outcome.data},
            )
        return outcome

    # A concurrent delivery of the same id loses on the unique index, and its
    # retry finds the winner's row: a duplicate.
    return ctx.store.retrying(write)


# -- check results ------------------------------------------------------------------------------


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
        status=builds.PENDING,
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


def verdict(session: Session, build_id: int, required: Sequence[str]) -> str:
    """passed when every required check passed; failed when one failed; else pending."""
    rows = session.execute(select(Check.name, Check.status).where(Check.build_id == build_id))
    latest = {name: status for name, status in rows}
    states = [latest.get(name) for name in required]
    if any(s == builds.FAILED for s in states):
        return builds.FAILED
    if all(s == builds.PASSED for s in states):
        return builds.PASSED
    return builds.PENDING


def fail_build(ctx: Context, build: Build, reason: str) -> None:
    def write(session: Session) -> None:
        row = session.get(Build, build.id)
        assert row is not None
        if row.status != builds.PENDING:
            return
        row.status = builds.FAILED
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
    from shipyard.services import deploy

    deploy.recover(ctx)
    passed = []
    for b in builds.pending_builds(ctx):
        with ctx.store.read() as s:
            state = verdict(s, b.id, required)
        if state == builds.FAILED:
            fail_build(ctx, b, "a required check failed")
        # The artifact comes from the repository: a commit it does not have yet waits.
        elif (
            state == builds.PASSED
            and ctx.git.rev_parse(b.sha) is not None
            and builds.run_build(ctx, b)
        ):
            passed.append(b.short_sha)
    green = builds.newest_green(ctx)
    if green is not None:
        builds.mark_superseded(ctx, green)
        deploy.follow_main(ctx, green)
    return passed


def ingest(ctx: Context, required: Sequence[str]) -> None:
    """What a push to main starts: the usual sync, or its external-checks variant."""
    if required:
        builds.record_new_builds(ctx)
        advance(ctx, required)
    else:
        builds.sync(ctx)


# -- one ingest per app at a time ----------------------------------------------------------------


@dataclass
class _Slot:
    job: Callable[[], None] | None = None
    running: bool = False
    again: bool = False
    idle: threading.Event = field(default_factory=threading.Event)


class IngestRunner:
    """Runs each app's ingest in a background thread, never two at once for one app;
    a request made while one runs makes it run once more afterwards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}

    def request(self, key: str, job: Callable[[], None]) -> None:
        with self._lock:
            slot = self._slots.setdefault(key, _Slot())
            slot.job = job
            if slot.running:
                slot.again = True
                return
            slot.running = True
            slot.idle.clear()
        threading.Thread(
            target=self._run, args=(key, slot), name=f"ingest-{key[-40:]}", daemon=True
        ).start()

    def _run(self, key: str, slot: _Slot) -> None:
        while True:
            with self._lock:
                job, slot.again = slot.job, False
            try:
                if job is not None:
                    job()
            except Exception:  # a failed ingest must not kill the thread silently
                log.exception("ingest of %s failed", key)
            with self._lock:
                if not slot.again:
                    slot.running = False
                    slot.idle.set()
                    return

    def wait_idle(self, key: str, timeout: float) -> bool:
        """Whether ``key``'s ingest finished (or never ran) within ``timeout`` seconds."""
        with self._lock:
            slot = self._slots.get(key)
        return True if slot is None else slot.idle.wait(timeout)


# Process-wide on purpose: two servers for one app in one process still share them.
RUNNER = IngestRunner()
_SYNC_LOCKS: dict[str, threading.Lock] = {}
_SYNC_LOCKS_GUARD = threading.Lock()


def sync_lock(settings: Settings) -> threading.Lock:
    """The lock every ingest of this app in this process holds while it runs, whoever
    starts it (a webhook, ``POST /api/v1/sync``, the poll schedule)."""
    key = runner_key(settings)
    with _SYNC_LOCKS_GUARD:
        return _SYNC_LOCKS.setdefault(key, threading.Lock())


def runner_key(settings: Settings) -> str:
    return f"{settings.database_url}#{settings.app.name}"


def drain(settings: Settings, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for this app's ingest to finish (at shutdown, in tests)."""
    return RUNNER.wait_idle(runner_key(settings), timeout)


class LogReporter:
    """Ingest progress from a webhook goes to the server log."""

    def step(self, message: str) -> None:
        log.info(message)

    def warn(self, message: str) -> None:
        log.warning(message)

    def check(self, build: str, name: str, state: str, detail: str = "") -> None:
        log.info("%s %s %s %s", build, name, state, detail)


def schedule_ingest(ctx: Context, ws: WebhookSettings) -> None:
    """Start ingest in the background; the caller's request returns at once."""
    background = Context(
        settings=ctx.settings,
        store=ctx.store,
        actor=ctx.actor,
        reporter=LogReporter(),
        _app_id=ctx.app_id,
    )
    required = ws.required_checks

    def job() -> None:
        try:
            with sync_lock(background.settings):
                ingest(background, required)
        finally:
            if background._outbox is not None:
                background._outbox.drain(3.0)

    RUNNER.request(runner_key(ctx.settings), job)


# -- GitHub -------------------------------------------------------------------------------------


def _irrelevant(intent: github.Intent, repository: str | None, main: str) -> str | None:
    """Why the train ignores this event, or None when it concerns this app's main."""
    repo = getattr(intent, "repository", None)
    if repository and repo and repo.lower() != repository.lower():
        return f"event about {repo}, not {repository}"
    if isinstance(intent, github.Skip):
        return intent.reason
    if isinstance(intent, github.Push):
        if intent.branch != main:
            return f"push to {(intent.tag and 'tag ' + intent.tag) or intent.branch}, not {main}"
        if intent.deleted:
            return f"{main} was deleted"
    if isinstance(intent, github.Merged) and intent.base != main:
        return f"pull request #{intent.number} merged into {intent.base}, not {main}"
    return None


def _apply_check(
    ctx: Context,
    ws: WebhookSettings,
    session: Session,
    report: github.CheckReport,
    create: bool,
) -> Outcome:
    main = ctx.settings.app.main
    build = build_for(
        ctx,
        session,
        report.sha,
        create=create,
        subject=report.subject,
        author=report.author,
    )
    if build is None:
        return Outcome(IGNORED, f"no build of {report.sha[:7]} on {main}")
    text = "\n".join(t for t in (report.detail, report.url) if t)
    record_check(session, build, report.name, report.status, text, ctx.settings.build.log_limit)
    return Outcome(
        ACCEPTED,
        f"check {report.name} {report.status} on {build.short_sha}",
        {
            "commit": build.sha,
            "check": report.name,
            "status": report.status,
            "ingest": bool(ws.required_checks) and build.status == builds.PENDING,
        },
    )


def _apply_github(
    ctx: Context, ws: WebhookSettings, session: Session, intent: github.Intent, create: bool
) -> Outcome:
    if isinstance(intent, github.Ping):
        return Outcome(ACCEPTED, "pong", {"zen": intent.zen})
    if isinstance(intent, github.Push):
        return Outcome(
            ACCEPTED,
            f"ingest of {intent.after[:7]} started",
            {"commit": intent.after, "ingest": True},
        )
    if isinstance(intent, github.Merged):
        return Outcome(
            ACCEPTED,
            f"pull request #{intent.number} merged; ingest started",
            {"pr": intent.number, "commit": intent.merge_commit, "ingest": True},
        )
    if isinstance(intent, github.CheckReport):
        return _apply_check(ctx, ws, session, intent, create)
    if isinstance(intent, github.RefCreated):
        return Outcome(ACCEPTED, f"{intent.ref_type} {intent.ref} created", {"ref": intent.ref})
    if isinstance(intent, github.ReleaseEvent):
        return Outcome(ACCEPTED, f"release {intent.tag} {intent.action}", {"tag": intent.tag})
    return Outcome(IGNORED, "nothing to do")


def handle_github(
    ctx: Context,
    ws: WebhookSettings,
    *,
    event: str,
    delivery_id: str,
    body: bytes,
    content_type: str | None = None,
) -> Outcome:
    """One signed, size-checked GitHub delivery: decode, decide, record, maybe ingest."""
    try:
        intent = github.parse(event, decode_json(body, content_type))
    except github.PayloadError as exc:
        record_rejected(ctx, "github", delivery_id, event, exc.message)
        raise BadDelivery(exc.message, event=event) from None
    except BadDelivery as exc:
        record_rejected(ctx, "github", delivery_id, event, exc.message)
        raise
    ctx.actor = f"github:{getattr(intent, 'sender', 'github')}"
    main = ctx.settings.app.main
    reason = _irrelevant(intent, ws.repository, main)
    create = False
    if reason is None and isinstance(intent, github.CheckReport) and main in intent.branches:
        create = prepare_build(ctx, ws, intent.sha)

    def apply(session: Session) -> Outcome:
        if reason is not None:
            return Outcome(IGNORED, reason)
        return _apply_github(ctx, ws, session, intent, create)

    outcome = settle(ctx, "github", delivery_id, event, apply)
    if outcome.outcome == ACCEPTED and outcome.data.pop("ingest", False):
        schedule_ingest(ctx, ws)
    return outcome


# -- the generic "build finished" hook ----------------------------------------------------------


@dataclass(frozen=True)
class BuildReport:
    commit: str
    checks: tuple[tuple[str, str, str], ...]  # (name, passed | failed, log)
    artifact: str | None


def parse_build_report(payload: Any) -> BuildReport:
    """``{"commit": sha, "checks": [{"name", "status", "log"?}], "artifact"?: ref}``."""
    if not isinstance(payload, dict):
        raise BadDelivery("the body must be a JSON object")
    unknown = set(payload) - {"commit", "checks", "artifact"}
    if unknown:
        raise BadDelivery(f"{sorted(unknown)[0]}: is not a known field")
    commit = payload.get("commit")
    if not isinstance(commit, str) or not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        raise BadDelivery("commit: must be a commit SHA (7 to 64 hex digits)")
    raw = payload.get("checks")
    if not isinstance(raw, list):
        raise BadDelivery("checks: must be a list")
    checks = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise BadDelivery(f"checks -> {i}: must be an object")
        name, status, text = item.get("name"), item.get("status"), item.get("log", "")
        if not isinstance(name, str) or not 0 < len(name) <= github.NAME_LIMIT:
            raise BadDelivery(f"checks -> {i} -> name: must be 1 to 64 characters")
        if status not in (builds.PASSED, builds.FAILED):
            raise BadDelivery(f"checks -> {i} -> status: must be 'passed' or 'failed'")
        if not isinstance(text, str):
            raise BadDelivery(f"checks -> {i} -> log: must be a string")
        checks.append((name, str(status), text))
    artifact = payload.get("artifact")
    if artifact is not None and (not isinstance(artifact, str) or not 0 < len(artifact) <= 256):
        raise BadDelivery("artifact: must be a reference of 1 to 256 characters")
    return BuildReport(commit=commit, checks=tuple(checks), artifact=artifact)


def _resolve_commit(ctx: Context, commit: str) -> tuple[str | None, bool]:
    """The full SHA and whether it is on main, from the repository or a known build."""
    try:
        full = ctx.git.rev_parse(commit)
        head = ctx.git.head_of(ctx.settings.app.main)
        if full is not None:
            return full, head is not None and ctx.git.is_ancestor(full, head)
    except ShipyardError as exc:
        log.warning("cannot read %s from the repository: %s", commit, exc.message)
    with ctx.store.read() as s:
        try:
            build = builds.find_build(s, ctx.app_id, commit)
        except ShipyardError:
            build = None
    return (build.sha, False) if build is not None else (None, False)


def handle_build(
    ctx: Context, ws: WebhookSettings, *, body: bytes, delivery_id: str | None = None
) -> Outcome:
    """A CI's report of a commit's checks; idempotent on ``delivery_id`` (else the body)."""
    delivery_id = delivery_id or "sha256:" + hashlib.sha256(body).hexdigest()
    try:
        report = parse_build_report(decode_json(body))
    except BadDelivery as exc:
        record_rejected(ctx, "build", delivery_id, "build", exc.message)
        raise
    full, on_main = _resolve_commit(ctx, report.commit)
    if full is not None and on_main:
        prepare_build(ctx, ws, full)

    def apply(session: Session) -> Outcome:
        build = None if full is None else build_for(ctx, session, full, create=False)
        if build is None:
            return Outcome(IGNORED, f"no build of {report.commit} on {ctx.settings.app.main}")
        limit = ctx.settings.build.log_limit
        for name, status, text in report.checks:
            record_check(session, build, name, status, text, limit)
        return Outcome(
            ACCEPTED,
            f"{len(report.checks)} check(s) on {build.short_sha}",
            {
                "commit": build.sha,
                "checks": {name: status for name, status, _ in report.checks},
                "artifact": report.artifact,
                "ingest": bool(ws.required_checks) and build.status == builds.PENDING,
            },
        )

    outcome = settle(ctx, "build", delivery_id, "build", apply)
    if outcome.outcome == ACCEPTED and outcome.data.pop("ingest", False):
        schedule_ingest(ctx, ws)
    return outcome
