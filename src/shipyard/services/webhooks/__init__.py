"""Webhooks in: who may send them, which app they are for, what a delivery changes,
and the ingest they trigger.

Every delivery is recorded in ``webhook_deliveries`` with its outcome, once per app:

    accepted   it changed something (or was a ping); an audit record says what
    ignored    another repository or branch, or nothing to do (answered 202)
    duplicate  a redelivery of an id already accepted or ignored; nothing done
    rejected   a bad signature or token, or a body that cannot be read

The modules, in the order a delivery meets them:

    routing     which served app(s) a delivery is for; the one entry per endpoint
    auth        HMAC signatures and bearer tokens, per app
    deliveries  settings, outcomes, decoding; recording and idempotency
    github      one GitHub event for one app
    build       the generic "build finished" report for one app
    checks      external checks on a commit's build, and their verdict
    ingest      the background ingest a push starts; one per app at a time

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

from shipyard.errors import BadDelivery, ShipyardError, Unauthorized
from shipyard.services.webhooks.auth import (
    Target,
    bearer_for,
    signed_for,
    verify_bearer,
    verify_signature,
)
from shipyard.services.webhooks.build import (
    BuildReport,
    body_id,
    handle_build,
    parse_build_report,
    requested_app,
)
from shipyard.services.webhooks.checks import (
    advance,
    build_for,
    fail_build,
    prepare_build,
    record_check,
    verdict,
)
from shipyard.services.webhooks.deliveries import (
    ACCEPTED,
    DELIVERY_ID_LIMIT,
    DELIVERY_RE,
    DUPLICATE,
    IGNORED,
    MAX_BODY,
    REJECTED,
    Outcome,
    WebhookSettings,
    decode_json,
    record_rejected,
    settle,
)
from shipyard.services.webhooks.github import handle_github
from shipyard.services.webhooks.ingest import (
    RUNNER,
    IngestRunner,
    LogReporter,
    drain,
    ingest,
    runner_key,
    schedule_ingest,
    sync_lock,
)
from shipyard.services.webhooks.routing import (
    combine,
    deliver_build,
    deliver_github,
    github_targets,
    read_limit,
    repository_of,
)

__all__ = [
    "ACCEPTED",
    "DELIVERY_ID_LIMIT",
    "DELIVERY_RE",
    "DUPLICATE",
    "IGNORED",
    "MAX_BODY",
    "REJECTED",
    "RUNNER",
    "BadDelivery",
    "BuildReport",
    "IngestRunner",
    "LogReporter",
    "Outcome",
    "ShipyardError",
    "Target",
    "Unauthorized",
    "WebhookSettings",
    "advance",
    "bearer_for",
    "body_id",
    "build_for",
    "combine",
    "decode_json",
    "deliver_build",
    "deliver_github",
    "drain",
    "fail_build",
    "github_targets",
    "handle_build",
    "handle_github",
    "ingest",
    "parse_build_report",
    "prepare_build",
    "read_limit",
    "record_check",
    "record_rejected",
    "repository_of",
    "requested_app",
    "runner_key",
    "schedule_ingest",
    "settle",
    "signed_for",
    "sync_lock",
    "verdict",
    "verify_bearer",
    "verify_signature",
]
