"""GitHub's own payload examples (tests/web/payloads), and events Shipyard does not act on:
each is answered 200 or 202, never a 4xx (GitHub shows those as failed deliveries)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from web.test_webhooks import PAYLOADS, Server
from web.test_webhooks import server as webhook_server

server = pytest.fixture(webhook_server.__wrapped__, name="server")  # type: ignore[attr-defined]

EVENTS = {
    "check_run_completed": "check_run",
    "check_suite_completed": "check_suite",
    "pull_request_closed": "pull_request",
    "push_tag_deleted": "push",
    "release_published": "release",
    "workflow_run_completed": "workflow_run",
}
IGNORED = (
    "delete",
    "deployment",
    "deployment_status",
    "package",
    "pull_request_review",
    "pull_request_review_comment",
    "workflow_dispatch",
    "workflow_job",
    "issues",
    "issue_comment",
    "star",
    "fork",
    "member",
    "repository",
)


def test_every_github_example_and_every_other_event_is_answered_without_a_4xx(
    server: Server,
) -> None:
    answers: Counter[int] = Counter()
    examples = sorted(PAYLOADS.glob("*.json"))
    assert len(examples) >= 10
    for path in examples:
        event = EVENTS.get(path.stem, path.stem)
        r = server.github(event, json.loads(path.read_text()))
        answers[r.status_code] += 1
        assert r.status_code in (200, 202), f"{path.name}: {r.status_code} {r.text}"
    some = json.loads((PAYLOADS / "push.json").read_text())
    for event in IGNORED:
        r = server.github(event, some)
        answers[r.status_code] += 1
        assert r.status_code == 202 and r.json()["outcome"] == "ignored", f"{event}: {r.text}"
    print(f"answers over {len(examples)} examples and {len(IGNORED)} other events: {answers}")
    assert not [code for code in answers if code >= 400]


def test_a_lone_surrogate_in_a_delivery_is_refused_not_a_500(server: Server) -> None:
    raw = b'{"zen": "\\ud800", "hook_id": 1, "repository": {"full_name": "Codertocat/Hello-World"}}'
    r = server.github("ping", None, raw=raw)
    assert r.status_code == 400 and "lone surrogate" in r.json()["error"]["message"], r.text
    assert server.deliveries() == [("github", "ping", "rejected")]
    r = server.build_hook({"commit": "a" * 40, "checks": [{"name": "\ud800", "status": "passed"}]})
    assert r.status_code == 400 and "lone surrogate" in r.json()["error"]["message"], r.text
