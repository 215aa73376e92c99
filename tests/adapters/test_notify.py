"""Notifications: sinks against real loopback HTTP servers, and the on-disk outbox."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fake_http import FakeSlack, LoopbackServer, slack_check

from shipyard.adapters.notify import (
    Event,
    LogSink,
    NotifyError,
    Outbox,
    SlackSink,
    WebhookSink,
    build_message,
    make_sink,
)
from shipyard.adapters.notify.mrkdwn import from_markdown, split
from shipyard.errors import ConfigError

SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
NOTES = """## Features
- Add **dark mode** ([#12](https://github.test/pr/12)) MNTOR-1

## Fixes
- Fix login redirect (#13)
"""
FAST = {"base_backoff": 0.01, "max_backoff": 0.05}


def deployed(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "kind": "deployment.succeeded",
        "app": "monitor",
        "summary": f"prod: 2024.09.01 deployed ({SHA[:7]}) by ana@example.com",
        "environment": "prod",
        "ref": "2024.09.01",
        "tag": "prod-2024.09.01",
        "commit": SHA,
        "actor": "ana@example.com",
        "notes_markdown": NOTES,
        "at": "2024-09-01T12:00:00Z",
        "id": "e1",
    }
    fields.update(changes)
    return Event(**fields)


def run_python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        text=True,
    )


# --- events and sinks ---------------------------------------------------------------------


def test_event_round_trips_through_its_dict() -> None:
    event = deployed(details={"reasons": ["MNTOR-2 not verified"]})
    assert Event.from_dict(json.loads(json.dumps(event.to_dict()))) == event
    with pytest.raises(ValueError, match="unknown event kind"):
        deployed(kind="deployment.exploded")


def test_log_sink_appends_one_json_line_per_event(tmp_path: Path) -> None:
    sink = LogSink(tmp_path / "logs" / "events.log")
    first, second = deployed(id="e1"), deployed(id="e2", kind="deployment.started")
    sink.send(first)
    sink.send(second)
    lines = (tmp_path / "logs" / "events.log").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [first.to_dict(), second.to_dict()]


def test_webhook_receives_the_exact_event_json() -> None:
    event = deployed(details={"url": "https://ci.test/run/1"})
    with LoopbackServer() as server:
        WebhookSink(server.url, headers={"Authorization": "Bearer s3cret"}).send(event)
    [request] = server.received
    assert request.json() == event.to_dict()
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["x-shipyard-event"] == "deployment.succeeded"
    assert request.headers["x-shipyard-event-id"] == "e1"


@pytest.mark.parametrize(
    ("status", "headers", "retryable", "retry_after"),
    [
        (500, {}, True, None),
        (503, {"Retry-After": "7"}, True, 7.0),
        (429, {"Retry-After": "3"}, True, 3.0),
        (404, {}, False, None),
        (400, {"Retry-After": "3"}, False, None),
    ],
)
def test_webhook_failures_say_whether_to_retry(
    status: int, headers: dict[str, str], retryable: bool, retry_after: float | None
) -> None:
    with LoopbackServer() as server:
        server.fail(1, status, b"nope", headers)
        with pytest.raises(NotifyError) as caught:
            WebhookSink(server.url).send(deployed())
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == retry_after
    assert f"answered {status}: nope" in caught.value.message


def test_unreachable_webhook_is_retryable_and_its_url_stays_secret() -> None:
    with LoopbackServer() as server:
        url = server.url + "/T000/B000/SECRETTOKEN"
    sink = WebhookSink(url)  # the server is closed: connection refused
    with pytest.raises(NotifyError) as caught:
        sink.send(deployed())
    assert caught.value.retryable
    assert "SECRETTOKEN" not in str(caught.value)
    assert "SECRETTOKEN" not in repr(sink)
    assert "SECRETTOKEN" not in repr(SlackSink(url))


def test_a_sink_that_never_answers_times_out_as_retryable() -> None:
    with LoopbackServer() as server:
        server.hang()
        with pytest.raises(NotifyError) as caught:
            WebhookSink(server.url, timeout=0.2).send(deployed())
    assert caught.value.retryable


def test_make_sink_builds_sinks_by_type_and_rejects_bad_config(tmp_path: Path) -> None:
    assert isinstance(make_sink("log", path=tmp_path / "e.log"), LogSink)
    hook = make_sink("webhook", name="ops", url="https://h.test/x", events=["deployment.*"])
    assert (hook.name, hook.events) == ("ops", frozenset({"deployment.*"}))
    assert isinstance(make_sink("slack", url="https://hooks.slack.test/services/x"), SlackSink)
    with pytest.raises(ConfigError, match="needs a URL"):
        make_sink("slack")
    with pytest.raises(ConfigError, match="unknown event kind"):
        make_sink("log", path="e.log", events=["deploy.done"])
    with pytest.raises(ConfigError, match="http"):
        make_sink("webhook", url="file:///etc/passwd")


# --- Slack --------------------------------------------------------------------------------


def test_markdown_notes_become_mrkdwn() -> None:
    markdown = (
        "# Release 2024.09.01\n\n\n"
        "## Fixes\n"
        "- Fix **login** & <redirect> ([#13](https://github.test/pr/13))\n"
        "  - nested *detail* with `a<b` code\n"
        "```\nif a < b: **x**\n```\n"
        "~~gone~~ __strong__"
    )
    assert from_markdown(markdown) == (
        "*Release 2024.09.01*\n\n"
        "*Fixes*\n"
        "• Fix *login* &amp; &lt;redirect&gt; (<https://github.test/pr/13|#13>)\n"
        "    ◦ nested _detail_ with `a&lt;b` code\n"
        "```\nif a &lt; b: **x**\n```\n"
        "~gone~ *strong*"
    )


def test_slack_message_shape() -> None:
    event = deployed(notes_markdown="- Fix login (#13)", details={"url": "https://ci.test/1"})
    assert build_message(event) == {
        "text": "prod: 2024.09.01 deployed (a1b2c3d) by ana@example.com",
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": ":white_check_mark: monitor: 2024.09.01 deployed to prod",
                    "emoji": True,
                },
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Environment*\nprod"},
                    {"type": "mrkdwn", "text": "*Tag*\n`prod-2024.09.01`"},
                    {"type": "mrkdwn", "text": "*Commit*\n`a1b2c3d`"},
                    {"type": "mrkdwn", "text": "*By*\nana@example.com"},
                ],
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Link*: <https://ci.test/1>"}},
            {"type": "divider"},
            {"type": "section", "text": {"type": "mrkdwn", "text": "• Fix login (#13)"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "<!date^1725192000^{date_short_pretty} {time}|2024-09-01T12:00:00Z>"
                        " · `deployment.succeeded` · e1",
                    }
                ],
            },
        ],
    }


def test_slack_receives_environment_tag_commit_author_and_notes() -> None:
    event = deployed(
        kind="deployment.refused",
        details={"reasons": ["MNTOR-2 is not verified by QA"], "unverified_tickets": ["MNTOR-2"]},
    )
    with FakeSlack() as slack:
        SlackSink(slack.url).send(event)
    [payload] = slack.bodies()
    assert payload["blocks"][0]["text"]["text"] == (
        ":no_entry: monitor: deploy of 2024.09.01 to prod refused"
    )
    fields = [f["text"] for f in payload["blocks"][1]["fields"]]
    assert fields == [
        "*Environment*\nprod",
        "*Tag*\n`prod-2024.09.01`",
        "*Commit*\n`a1b2c3d`",
        "*By*\nana@example.com",
    ]
    texts = "\n".join(b["text"]["text"] for b in payload["blocks"] if "text" in b)
    assert "*Reasons*\n• MNTOR-2 is not verified by QA" in texts
    assert "*Unverified tickets*\n• MNTOR-2" in texts
    assert "*Features*\n• Add *dark mode* (<https://github.test/pr/12|#12>) MNTOR-1" in texts


def test_long_notes_are_split_and_cut_within_slack_limits() -> None:
    lines = [f"- Change number {i} with a reasonably long description (#{i})" for i in range(600)]
    lines.insert(10, "x" * 5000)  # one line longer than a whole section
    event = deployed(notes_markdown="\n".join(lines), details={"url": "https://git.test/r/1"})
    with FakeSlack() as slack:
        SlackSink(slack.url).send(event)  # FakeSlack answers 400 on any limit broken
    [payload] = slack.bodies()
    blocks = payload["blocks"]
    divider = blocks.index({"type": "divider"})
    notes = [b["text"]["text"] for b in blocks[divider + 1 :] if b["type"] == "section"]
    assert len(blocks) <= 50
    assert len(notes) > 1
    assert all(len(n) <= 3000 for n in notes)
    assert sum(map(len, notes)) <= 12_000  # Slack also caps the text of all blocks together
    assert notes[0].startswith("• Change number 0 ")
    more = blocks[-2]["elements"][0]["text"]
    assert more.startswith("Notes cut: ") and more.endswith("Full notes: <https://git.test/r/1>")


def test_split_keeps_code_blocks_closed_in_every_piece() -> None:
    text = "intro\n```\n" + "\n".join(f"line {i}" for i in range(50)) + "\n```\nafter"
    pieces = split(text, 60)
    assert all(len(p) <= 60 and p.count("```") % 2 == 0 for p in pieces)
    assert "\n".join(pieces).count("line ") == 50


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (404, b"no_service", False),
        (410, b"channel_is_archived", False),
        (403, b"action_prohibited", False),
        (400, b"invalid_blocks", False),
        (500, b"rollup_error", True),
        (429, b"rate_limited", True),
    ],
)
def test_slack_errors_are_classified(status: int, body: bytes, retryable: bool) -> None:
    with FakeSlack() as slack:
        slack.error = (status, body)
        with pytest.raises(NotifyError) as caught:
            SlackSink(slack.url).send(deployed())
    assert caught.value.retryable is retryable
    assert f"Slack answered {status}: {body.decode()}" in caught.value.message


def test_fake_slack_rejects_what_slack_rejects() -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    fields = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}
    assert slack_check(b"[]") == (400, b"invalid_payload")
    assert slack_check(json.dumps({"blocks": [header]}).encode()) == (400, b"invalid_blocks")
    assert slack_check(json.dumps({"blocks": [fields]}).encode()) == (400, b"invalid_blocks")
    assert slack_check(json.dumps({"blocks": [{"type": "divider"}] * 51}).encode())[0] == 400
    assert slack_check(json.dumps(build_message(deployed())).encode()) == (200, b"ok")


# --- the outbox ---------------------------------------------------------------------------


def test_publish_delivers_in_the_background_and_drain_reports(tmp_path: Path) -> None:
    with LoopbackServer() as server, Outbox(tmp_path / "box", [WebhookSink(server.url)]) as box:
        box.publish(deployed())
        result = box.drain(timeout=10)
        assert server.bodies() == [deployed().to_dict()]
        assert box.pending() == []
    assert result.pending == 0 and result.complete


def test_sinks_only_get_the_kinds_they_ask_for(tmp_path: Path) -> None:
    log = LogSink(tmp_path / "events.log", name="failures", events=frozenset({"deployment.failed"}))
    with Outbox(tmp_path / "box", [log], autostart=False) as box:
        box.publish(deployed())
        box.publish(deployed(kind="deployment.failed", id="e2"))
        assert box.drain(timeout=10).delivered == 1
    [line] = (tmp_path / "events.log").read_text().splitlines()
    assert json.loads(line)["id"] == "e2"


def test_a_failing_sink_is_retried_with_backoff_until_it_succeeds(tmp_path: Path) -> None:
    with FakeSlack() as slack, Outbox(tmp_path, [SlackSink(slack.url)], **FAST) as box:
        slack.fail(2, 500, b"rollup_error")
        box.publish(deployed())
        result = box.drain(timeout=20)
    assert (result.delivered, result.retried, result.dead, result.pending) == (1, 2, 0, 0)
    assert len(slack.received) == 3
    assert slack_check(slack.received[-1].body) == (200, b"ok")


def test_retry_after_is_recorded_for_the_next_attempt(tmp_path: Path) -> None:
    with FakeSlack() as slack, Outbox(tmp_path, [SlackSink(slack.url)], autostart=False) as box:
        slack.fail(1, 429, b"rate_limited", {"Retry-After": "30"})
        box.publish(deployed())
        before = time.time()
        result = box.drain(timeout=0.5)
    assert (result.retried, result.pending, result.complete) == (1, 1, True)
    [item] = box.pending()
    assert item.attempts == 1
    assert item.next_attempt_at.timestamp() >= before + 29
    assert item.last_error == "Slack answered 429: rate_limited"
    assert item.claimed_by is None


def test_a_final_error_goes_to_dead_after_one_attempt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeSlack() as slack, Outbox(tmp_path, [SlackSink(slack.url)], **FAST) as box:
        slack.error = (404, b"no_service")
        box.publish(deployed())
        result = box.drain(timeout=10)
    assert (result.delivered, result.dead, result.pending) == (0, 1, 0)
    assert len(slack.received) == 1
    [dead] = box.dead()
    assert dead.attempts == 1 and "no_service" in (dead.last_error or "")
    assert len(list((tmp_path / "dead").iterdir())) == 1
    assert "gave up sending deployment.succeeded e1 to slack after 1 attempt(s)" in caplog.text


def test_retries_stop_after_max_attempts(tmp_path: Path) -> None:
    with LoopbackServer() as server:
        server.fail(10, 503, b"down")
        with Outbox(tmp_path, [WebhookSink(server.url)], max_attempts=3, **FAST) as box:
            box.publish(deployed())
            result = box.drain(timeout=20)
    assert (result.retried, result.dead, len(server.received)) == (2, 1, 3)


def test_a_hanging_sink_blocks_neither_publish_nor_drain(tmp_path: Path) -> None:
    with LoopbackServer() as server:
        server.hang()
        log = LogSink(tmp_path / "events.log")
        with Outbox(tmp_path / "box", [WebhookSink(server.url), log]) as box:
            box.publish(deployed())  # returns while the webhook's request is held open
            assert server.arrived.wait(10)
            result = box.drain(timeout=0.3)
            assert not result.complete
            assert result.pending == 1  # the webhook's; the log sink was not held up
            assert [i.claimed_by is not None for i in box.pending()] == [True]
            assert (tmp_path / "events.log").read_text().count("\n") == 1
            server.release()
            assert box.drain(timeout=10).pending == 0


def test_publish_never_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "file").write_text("not a directory")
    with Outbox(tmp_path / "file" / "box", [LogSink(tmp_path / "e.log")]) as box:
        box.publish(deployed())
    assert "could not queue deployment.succeeded e1" in caplog.text


def test_events_survive_the_outbox_that_queued_them(tmp_path: Path) -> None:
    # Stands for a CLI process that queued an event and exited before sending it.
    unreachable = WebhookSink("http://127.0.0.1:9/", name="hook")
    with Outbox(tmp_path, [unreachable], autostart=False) as gone:
        gone.publish(deployed())
    with (
        LoopbackServer() as server,
        Outbox(tmp_path, [WebhookSink(server.url, name="hook")]) as box,
    ):
        assert [i.summary for i in box.pending()] == [deployed().summary]
        assert box.drain(timeout=10).delivered == 1
    assert server.bodies() == [deployed().to_dict()]


def test_a_killed_process_claim_is_taken_back_and_delivered(tmp_path: Path) -> None:
    with LoopbackServer() as hanging, LoopbackServer() as server:
        hanging.hang()
        proc = run_python(
            """
            import sys, time
            from shipyard.adapters.notify import Event, Outbox, WebhookSink
            box = Outbox(sys.argv[1], [WebhookSink(sys.argv[2], name="hook")])
            box.publish(Event(kind="prerelease.cut", app="monitor", summary="cut", id="p1"))
            time.sleep(60)
            """,
            str(tmp_path),
            hanging.url,
        )
        try:
            assert hanging.arrived.wait(30)  # its request is in flight, the item claimed
        finally:
            proc.kill()
            proc.communicate()
        with Outbox(tmp_path, [WebhookSink(server.url, name="hook")]) as box:
            assert [i.claimed_by for i in box.pending()] == [proc.pid]
            result = box.drain(timeout=10)
    assert (result.delivered, result.pending) == (1, 0)
    assert [b["id"] for b in server.bodies()] == ["p1"]


def test_concurrent_drains_deliver_each_event_once(tmp_path: Path) -> None:
    ids = [f"ev{i:02d}" for i in range(40)]
    with LoopbackServer() as server:
        sink = WebhookSink(server.url, name="hook")
        with Outbox(tmp_path, [sink], autostart=False) as writer:
            for event_id in ids:
                writer.publish(deployed(id=event_id))
        other = run_python(
            """
            import sys
            from shipyard.adapters.notify import Outbox, WebhookSink
            with Outbox(sys.argv[1], [WebhookSink(sys.argv[2], name="hook")]) as box:
                print(box.drain(timeout=60).delivered)
            """,
            str(tmp_path),
            server.url,
        )
        boxes = [Outbox(tmp_path, [WebhookSink(server.url, name="hook")]) for _ in range(2)]
        delivered: list[int] = []
        threads = [
            threading.Thread(target=lambda b=b: delivered.append(b.drain(timeout=60).delivered))
            for b in boxes
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        out, _ = other.communicate(timeout=60)
        for box in boxes:
            box.close()
    assert Counter(b["id"] for b in server.bodies()) == Counter(ids)
    assert sum(delivered) + int(out) == len(ids)
    assert boxes[0].pending() == []


def test_outbox_rejects_clashing_sink_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unique"):
        Outbox(tmp_path, [LogSink(tmp_path / "a"), LogSink(tmp_path / "b")])
    with pytest.raises(ValueError, match="lower-case"):
        Outbox(tmp_path, [LogSink(tmp_path / "a", name="Has.Dots")])


def test_logging_of_give_up_names_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "shipyard.notify")
    with FakeSlack() as slack:
        url = slack.url + "/T1/B2/TOPSECRET"
        slack.error = (410, b"channel_is_archived")
        with Outbox(tmp_path, [SlackSink(url)], **FAST) as box:
            box.publish(deployed())
            box.drain(timeout=10)
    assert "channel_is_archived" in caplog.text
    assert "TOPSECRET" not in caplog.text


def test_an_unreadable_file_is_moved_aside_untouched(tmp_path: Path) -> None:
    (tmp_path / "00000000000000000001-x.log.json").write_text("{not json")
    with Outbox(tmp_path, [LogSink(tmp_path / "events.log")]) as box:
        result = box.drain(timeout=10)
    assert (result.delivered, result.dead, result.pending) == (0, 1, 0)
    assert (tmp_path / "dead" / "00000000000000000001-x.log.json").read_text() == "{not json"
