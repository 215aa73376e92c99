"""POST /webhooks/jira in-process, on a real repository and SQLite, with the Jira double.

The body is Jira Cloud's ``jira:issue_updated`` delivery as documented at
https://developer.atlassian.com/cloud/jira/platform/webhooks/#example-callback-for-an-issue-related-event
(payloads/jira_issue_updated.json); Jira signs admin webhooks registered with a secret
with ``X-Hub-Signature: sha256=<HMAC-SHA256 of the body>`` ("Secure admin webhooks").
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from adapters.jira_cloud.double import FakeJira
from conftest import asgi_post, free_port
from shipyard.adapters.tracker.jira import JiraTracker, StatusCache
from shipyard.config import Settings, parse
from shipyard.services.context import Context, open_context
from shipyard.store.models import AuditEvent, WebhookDelivery
from shipyard.web.app import create_app

PAYLOAD = json.loads((Path(__file__).parent / "payloads" / "jira_issue_updated.json").read_text())
SECRET = "jira-webhook-secret-0123"
TOKEN = "s3cret-token"


@dataclass
class Site:
    jira: FakeJira
    settings: Settings
    app: FastAPI
    ctx: Context

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        h = {"content-type": "application/json", **(headers or {})}
        response: httpx.Response = asgi_post(self.app, "/webhooks/jira", body, h)
        return response

    def deliver(
        self, data: Any, secret: str = SECRET, delivery: str | None = None
    ) -> httpx.Response:
        body = json.dumps(data).encode()
        headers = {"x-hub-signature": sign(body, secret)}
        if delivery is not None:
            headers["x-atlassian-webhook-identifier"] = delivery
        return self.post(body, headers)

    def raw(self, tracker: JiraTracker, *keys: str) -> dict[str, str]:
        with self.ctx.store.read() as s:
            return tracker.raw_statuses(s, keys)


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def update(key: str, status: str, field: str = "status", ago: float = 0.0) -> dict[str, Any]:
    """The delivery of an event ``ago`` seconds old."""
    data = copy.deepcopy(PAYLOAD)
    data["timestamp"] = int((time.time() - ago) * 1000)
    data["issue"]["key"] = key
    data["issue"]["fields"]["status"]["name"] = status
    data["changelog"]["items"][0]["field"] = field
    return data


def tracker_of(ctx: Context) -> JiraTracker:
    t = ctx.tracker
    assert isinstance(t, JiraTracker)
    return t


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("JIRA_TOKEN", TOKEN)
    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", SECRET)
    (tmp_path / "app").mkdir()
    with FakeJira({"MNTOR-1": "In QA", "MNTOR-2": "In QA"}, token=TOKEN) as jira:
        settings = parse(
            {
                "app": {"name": "monitor", "run": "true", "repo": "app"},
                "environments": {"stage": {"port": free_port()}},
                "tracker": {
                    "kind": "jira",
                    "url": jira.url,
                    "user": "qa@example.com",
                    "token": {"env": "JIRA_TOKEN"},
                    "webhook_secret": {"env": "JIRA_WEBHOOK_SECRET"},
                    "verified": ["QA Verified"],
                    "rejected": ["QA Failed"],
                    "cache_seconds": 600,
                },
            },
            root=tmp_path,
        )
        app = create_app(settings)
        ctx = open_context(settings, actor="test")
        with ctx.store.write() as s:
            tracker_of(ctx).record_merged(s, ["MNTOR-1", "MNTOR-2"], "a" * 40, "ana")
        try:
            yield Site(jira, settings, app, ctx)
        finally:
            ctx.store.close()
            app.state.store.close()
        assert jira.violations == []


def test_a_sign_off_in_jira_shows_at_once_in_every_replica(site: Site) -> None:
    here = tracker_of(site.ctx)
    assert site.raw(here, "MNTOR-1") == {"MNTOR-1": "unknown status: In QA"}  # now cached
    site.jira.issues["MNTOR-1"] = "QA Verified"
    assert site.raw(here, "MNTOR-1") == {"MNTOR-1": "unknown status: In QA"}  # the cache holds

    r = site.deliver(update("MNTOR-1", "QA Verified"))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "outcome": "accepted",
        "detail": "MNTOR-1 is 'QA Verified' in Jira",
        "apps": ["monitor"],
    }
    before = len(site.jira.requests)
    assert site.raw(here, "MNTOR-1") == {"MNTOR-1": "verified"}
    # Another replica: its own process cache, still holding the old status.
    other = JiraTracker(here.app_id, "monitor", here.config, here.client)
    other.cache = StatusCache(600)
    other.cache.put({"MNTOR-1": "In QA"}, at=0.0)
    assert site.raw(other, "MNTOR-1") == {"MNTOR-1": "verified"}
    assert len(site.jira.requests) == before  # neither asked Jira
    with site.ctx.store.read() as s:
        audit = s.execute(select(AuditEvent).where(AuditEvent.subject == "MNTOR-1")).scalars()
        assert [(a.actor, a.action) for a in audit][-1] == ("jira", "ticket.tracker_status")


def test_an_edit_of_another_field_updates_the_status_without_an_audit_record(site: Site) -> None:
    r = site.deliver(update("MNTOR-2", "QA Failed", field="summary"))
    assert r.json()["outcome"] == "accepted"
    assert site.raw(tracker_of(site.ctx), "MNTOR-2") == {"MNTOR-2": "rejected"}
    with site.ctx.store.read() as s:
        audit = s.execute(select(AuditEvent.action).where(AuditEvent.subject == "MNTOR-2"))
        assert "ticket.tracker_status" not in list(audit.scalars())


def error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"code", "message", "details"}
    return str(err["message"])


def test_a_wrong_or_missing_signature_is_401(site: Site) -> None:
    body = json.dumps(update("MNTOR-1", "QA Verified")).encode()
    assert "does not match" in error(site.deliver(update("MNTOR-1", "QA Verified"), "x"), 401)
    assert "missing or malformed" in error(site.post(body), 401)
    assert "missing or malformed" in error(site.post(body, {"x-hub-signature": "abc"}), 401)
    # the secret in the URL, which Jira allows but we do not: still unsigned
    r = asgi_post(site.app, f"/webhooks/jira?secret={SECRET}", body, {})
    assert r.status_code == 401
    assert site.raw(tracker_of(site.ctx), "MNTOR-1") == {"MNTOR-1": "unknown status: In QA"}


def test_no_secret_configured_refuses_every_delivery(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JIRA_WEBHOOK_SECRET")
    msg = error(site.deliver(update("MNTOR-1", "QA Verified")), 401)
    assert msg == "no Jira webhook secret is configured; every delivery is refused"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the body is not valid JSON"),
        (b"[]", "the body must be a JSON object"),
        (b'{"issue": {}}', "webhookEvent: missing"),
        (b'{"webhookEvent": "jira:issue_updated"}', "issue: missing"),
        (b'{"webhookEvent": "jira:issue_updated", "issue": {"key": 7}}', "issue.key"),
        (
            b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "MNTOR-1", "fields": []}}',
            "issue.fields.status.name",
        ),
        (
            b'{"webhookEvent": "jira:issue_updated", "changelog": "x",'
            b' "issue": {"key": "MNTOR-1", "fields": {"status": {"name": ""}}}}',
            "issue.fields.status.name",
        ),
    ],
)
def test_a_bad_payload_is_400_naming_the_field(site: Site, body: bytes, message: str) -> None:
    assert message in error(site.post(body, {"x-hub-signature": sign(body)}), 400)


def test_an_unknown_key_or_another_event_is_200_ignored(site: Site) -> None:
    r = site.deliver(update("MNTOR-99", "QA Verified"))
    assert r.status_code == 200
    assert r.json() == {"outcome": "ignored", "detail": "MNTOR-99: no ticket of that key here"}
    r = site.deliver({**update("MNTOR-1", "QA Verified"), "webhookEvent": "comment_created"})
    assert r.status_code == 200 and r.json()["outcome"] == "ignored"
    assert site.raw(tracker_of(site.ctx), "MNTOR-1") == {"MNTOR-1": "unknown status: In QA"}


def deliveries(site: Site) -> list[tuple[str, str]]:
    with site.ctx.store.read() as s:
        rows = s.execute(
            select(WebhookDelivery.delivery_id, WebhookDelivery.outcome)
            .where(WebhookDelivery.source == "jira")
            .order_by(WebhookDelivery.id)
        )
        return [(d.split("#")[0], o) for d, o in rows]


def test_a_delivery_id_seen_before_is_a_duplicate_and_changes_nothing(site: Site) -> None:
    first = site.deliver(update("MNTOR-1", "QA Verified"), delivery="d-7f3a")
    assert first.json()["outcome"] == "accepted"
    # The same delivery again, even one whose body now says otherwise (a replay).
    again = site.deliver(update("MNTOR-1", "QA Failed"), delivery="d-7f3a")
    assert again.status_code == 200, again.text
    assert again.json() == {
        "outcome": "duplicate",
        "detail": "delivery d-7f3a was already received",
        "duplicate": True,
    }
    assert site.raw(tracker_of(site.ctx), "MNTOR-1") == {"MNTOR-1": "verified"}
    assert deliveries(site) == [("d-7f3a", "accepted"), ("d-7f3a", "duplicate")]
    with site.ctx.store.read() as s:
        moves = s.execute(
            select(AuditEvent.data).where(AuditEvent.action == "ticket.tracker_status")
        )
        assert [json.loads(d)["status"] for d in moves.scalars()] == ["QA Verified"]


def test_an_event_older_than_the_status_recorded_is_ignored(site: Site) -> None:
    assert site.deliver(update("MNTOR-2", "QA Verified"), delivery="d-2").json()["outcome"] == (
        "accepted"
    )
    late = site.deliver(update("MNTOR-2", "QA Failed", ago=30), delivery="d-1")
    assert late.status_code == 200
    assert late.json() == {
        "outcome": "ignored",
        "detail": "MNTOR-2: an older event than the status recorded",
    }
    assert site.raw(tracker_of(site.ctx), "MNTOR-2") == {"MNTOR-2": "verified"}
    newer = site.deliver(update("MNTOR-2", "QA Failed"), delivery="d-3")
    assert newer.json()["outcome"] == "accepted"
    assert site.raw(tracker_of(site.ctx), "MNTOR-2") == {"MNTOR-2": "rejected"}
    assert deliveries(site) == [("d-2", "accepted"), ("d-1", "ignored"), ("d-3", "accepted")]


def test_an_event_older_than_shipyards_own_move_is_ignored(site: Site) -> None:
    here = tracker_of(site.ctx)
    with site.ctx.store.write() as s:
        here.set_status(s, ["MNTOR-1"], "verified", "qa@example.com")
    late = site.deliver(update("MNTOR-1", "In QA", ago=60), delivery="d-old")
    assert late.json()["outcome"] == "ignored"
    assert site.raw(here, "MNTOR-1") == {"MNTOR-1": "verified"}


@pytest.mark.parametrize(
    ("change", "delivery", "message"),
    [
        ({"timestamp": "yesterday"}, None, "timestamp: not a time in milliseconds"),
        ({"timestamp": -1}, None, "timestamp: not a time in milliseconds"),
        ({}, "d 1; drop", "X-Atlassian-Webhook-Identifier: not a delivery id"),
        ({}, "x" * 101, "X-Atlassian-Webhook-Identifier: not a delivery id"),
    ],
)
def test_a_bad_timestamp_or_delivery_id_is_400_and_records_nothing(
    site: Site, change: dict[str, Any], delivery: str | None, message: str
) -> None:
    r = site.deliver({**update("MNTOR-1", "QA Verified"), **change}, delivery=delivery)
    assert message in error(r, 400)
    assert deliveries(site) == []
    with site.ctx.store.read() as s:
        assert tracker_of(site.ctx)._pushed(s, ["MNTOR-1"]) == {}
