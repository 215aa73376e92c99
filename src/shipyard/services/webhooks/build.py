"""The generic "build finished" hook: a CI reports a commit's checks for one app.

    {"app"?: name, "commit": sha, "checks": [{"name", "status", "log"?}], "artifact"?: ref}

``app`` names the served app the report is for; it may be left out when the
server serves one app.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from shipyard.core import github
from shipyard.core.builds import FAILED, PASSED, PENDING, WAITING_IMAGE
from shipyard.errors import BadDelivery, NotFound, ShipyardError
from shipyard.services.context import Context
from shipyard.services.webhooks.checks import build_for, prepare_build, record_check
from shipyard.services.webhooks.deliveries import (
    ACCEPTED,
    IGNORED,
    Outcome,
    WebhookSettings,
    decode_json,
    record_rejected,
    settle,
)
from shipyard.services.webhooks.ingest import schedule_ingest
from shipyard.store.queries import find_build

log = logging.getLogger("shipyard.webhooks")

FIELDS = frozenset({"app", "commit", "checks", "artifact"})


@dataclass(frozen=True)
class BuildReport:
    commit: str
    checks: tuple[tuple[str, str, str], ...]  # (name, passed | failed, log)
    artifact: str | None
    app: str | None = None


def parse_build_report(payload: Any) -> BuildReport:
    """``{"app"?, "commit": sha, "checks": [{"name", "status", "log"?}], "artifact"?: ref}``."""
    if not isinstance(payload, dict):
        raise BadDelivery("the body must be a JSON object")
    unknown = set(payload) - FIELDS
    if unknown:
        raise BadDelivery(f"{sorted(unknown)[0]}: is not a known field")
    app = payload.get("app")
    if app is not None and not isinstance(app, str):
        raise BadDelivery("app: must be the name of an app")
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
        if status not in (PASSED, FAILED):
            raise BadDelivery(f"checks -> {i} -> status: must be 'passed' or 'failed'")
        if not isinstance(text, str):
            raise BadDelivery(f"checks -> {i} -> log: must be a string")
        checks.append((name, str(status), text))
    artifact = payload.get("artifact")
    if artifact is not None and (not isinstance(artifact, str) or not 0 < len(artifact) <= 256):
        raise BadDelivery("artifact: must be a reference of 1 to 256 characters")
    return BuildReport(commit=commit, checks=tuple(checks), artifact=artifact, app=app)


def requested_app(body: bytes, served: Sequence[str]) -> str:
    """The served app a report is for: its ``app`` field, or the only app served.

    BadDelivery when it names none and several apps are served (or its body
    cannot be read then), NotFound for an app this server does not serve."""
    try:
        payload = decode_json(body)
    except BadDelivery:
        if len(served) == 1:
            return served[0]  # handle_build names what is wrong with the body
        raise
    name = payload.get("app") if isinstance(payload, dict) else None
    if name is None:
        if len(served) == 1:
            return served[0]
        raise BadDelivery(
            f"app: is required when the server serves several apps (one of: {', '.join(served)})",
            apps=list(served),
        )
    if not isinstance(name, str):
        raise BadDelivery("app: must be the name of an app")
    if name not in served:
        raise NotFound(f"this server does not serve an app named {name[:100]!r}")
    return name


def body_id(body: bytes) -> str:
    """The delivery id of a report sent without an Idempotency-Key: its body's hash."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


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
            build = find_build(s, ctx.app_id, commit)
        except ShipyardError:
            build = None
    return (build.sha, False) if build is not None else (None, False)


def handle_build(
    ctx: Context,
    ws: WebhookSettings,
    *,
    body: bytes,
    delivery_id: str | None = None,
    own: bool = True,
) -> Outcome:
    """A CI's report of a commit's checks; idempotent on ``delivery_id`` (else the body)
    for ``ctx``'s app. ``own``: it is the server's own app (see ``settle``)."""
    delivery_id = delivery_id or body_id(body)
    try:
        report = parse_build_report(decode_json(body))
    except BadDelivery as exc:
        record_rejected(ctx, "build", delivery_id, "build", exc.message, app=ctx.app_name)
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
                # a build waiting for its image looks again: CI may report after its push
                "ingest": bool(ws.required_checks) and build.status in (PENDING, WAITING_IMAGE),
            },
        )

    outcome = settle(ctx, "build", delivery_id, "build", apply, own=own)
    if outcome.outcome == ACCEPTED and outcome.data.pop("ingest", False):
        schedule_ingest(ctx, ws)
    return outcome
