"""The Jira tracker's writes on a real database (SQLite and PostgreSQL), and Jira's side of
merges and promotions delivered through the outbox (``jira_sink``), against the Jira
double whose traffic is checked against Jira Cloud's REST v3 description."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jira_cloud.double import FakeJira
from sqlalchemy import select

from shipyard.adapters.notify import Event, NotifyError, Outbox
from shipyard.adapters.tracker import SIGNED_OFF, VERIFIED
from shipyard.adapters.tracker.jira import JiraTracker, StatusCache
from shipyard.adapters.tracker.jira_client import JiraClient, Retry
from shipyard.adapters.tracker.jira_sink import JiraSink
from shipyard.config.schema import SecretRef
from shipyard.config.tracker import TrackerConfig
from shipyard.errors import NotFound
from shipyard.store.db import Store, open_store
from shipyard.store.models import App, Ticket

TOKEN = "s3cret-token"
KEYS = ["MNTOR-1", "MNTOR-2", "MNTOR-3"]
CFG = TrackerConfig(
    kind="jira",
    url="http://jira.invalid",
    user="qa@example.com",
    token=SecretRef("JIRA_TOKEN"),
    verified=["QA Verified"],
    rejected=["QA Failed"],
    on_merge="Start QA",
    on_promote="Released",
)


@dataclass
class Board:
    jira: FakeJira
    store: Store
    tracker: JiraTracker


def client(jira: FakeJira, **kw: object) -> JiraClient:
    return JiraClient(
        jira.url, user="qa@example.com", token=TOKEN, retry=Retry(attempts=1, cap=3600.0), **kw
    )  # type: ignore[arg-type]


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira({k: "To Do" for k in KEYS} | {"MNTOR-4": "Blocked"}, token=TOKEN) as fake:
        yield fake
        assert fake.violations == []


@pytest.fixture
def board(jira: FakeJira, db_url: str) -> Iterator[Board]:
    store = open_store(db_url)
    with store.write() as s:
        app = App(name="monitor", repo=".", created_at=datetime.now(UTC))
        s.add(app)
        s.flush()
        app_id = app.id
    t = JiraTracker(app_id, "monitor", CFG, client(jira))
    t.cache = StatusCache(30)
    try:
        yield Board(jira, store, t)
    finally:
        store.close()


def sink(jira: FakeJira, tmp_path: Path, **kw: object) -> JiraSink:
    return JiraSink(client(jira, **kw), CFG, tmp_path / "progress")


def merged(*keys: str) -> Event:
    return Event(kind="tickets.merged", app="monitor", summary="merged", details={"tickets": keys})


def deployed(*keys: str) -> Event:
    return Event(
        kind="deployment.succeeded",
        app="monitor",
        summary="prod: 2024.09.01 deployed",
        environment="prod",
        ref="2024.09.01",
        tag="prod-2024.09.01",
        actor="ana@example.com",
        details={
            "release": "2024.09.01",
            "url": "https://ship.example/r/2024.09.01",
            "promoted": keys,
        },
    )


def comment_texts(jira: FakeJira, key: str) -> list[str]:
    return [
        "".join(t["text"] for t in doc["content"][0]["content"])
        for doc in jira.comments.get(key, [])
    ]


# -- the tracker on a real database ---------------------------------------------------------------


def test_merges_and_promotions_are_recorded_without_calling_jira(board: Board) -> None:
    with board.store.write() as s:
        assert board.tracker.record_merged(s, KEYS, "a" * 40, "ana") == KEYS
        assert board.tracker.promote(s, KEYS[:1], "prod", "ana") == ["MNTOR-1"]
    assert board.jira.requests == []  # the outbox's Jira sink does that, retried
    with board.store.read() as s:
        rows = {t.key: t.status for t in s.execute(select(Ticket)).scalars()}
    assert rows == {"MNTOR-1": "promoted", "MNTOR-2": "merged", "MNTOR-3": "merged"}


def test_verify_transitions_in_jira_and_every_replica_sees_it(board: Board) -> None:
    with board.store.write() as s:
        board.tracker.record_merged(s, KEYS, "a" * 40, "ana")
    with board.store.write() as s:
        [moved] = board.tracker.set_status(s, ["MNTOR-2"], VERIFIED, "quinn")
        assert moved.status == VERIFIED and moved.tracker_status == "QA Verified"
    assert board.jira.issues["MNTOR-2"] == "QA Verified"
    other = JiraTracker(board.tracker.app_id, "monitor", CFG, board.tracker.client)
    other.cache = StatusCache(30)
    other.cache.put({"MNTOR-2": "To Do"}, at=time.time() - 5)  # read before the verify
    before = len(board.jira.requests)
    with board.store.read() as s:
        assert other.raw_statuses(s, ["MNTOR-2"]) == {"MNTOR-2": "verified"}
    assert len(board.jira.requests) == before


def test_verifying_a_ticket_deleted_in_jira_changes_nothing(board: Board) -> None:
    with board.store.write() as s:
        board.tracker.record_merged(s, KEYS, "a" * 40, "ana")
    del board.jira.issues["MNTOR-3"]
    with pytest.raises(NotFound, match="MNTOR-3: not found in Jira"), board.store.write() as s:
        board.tracker.set_status(s, ["MNTOR-1", "MNTOR-3"], VERIFIED, "quinn")
    assert board.jira.issues["MNTOR-1"] == "To Do"
    with board.store.read() as s:
        assert {t.status for t in s.execute(select(Ticket)).scalars()} == {"merged"}


def test_an_unknown_status_is_reported_as_such_and_never_verified(board: Board) -> None:
    with board.store.write() as s:
        board.tracker.record_merged(s, ["MNTOR-4"], "a" * 40, "ana")
    with board.store.read() as s:
        raw = board.tracker.raw_statuses(s, ["MNTOR-4"])
        assert raw == {"MNTOR-4": "unknown status: Blocked"}
        assert raw["MNTOR-4"] not in SIGNED_OFF
        assert board.tracker.statuses(s, ["MNTOR-4"]) == {"MNTOR-4": "unknown status: Blocked"}


# -- Jira's side of merges and promotions, through the outbox -------------------------------------


def test_a_merge_applies_on_merge_and_a_promotion_on_promote_with_a_comment(
    jira: FakeJira, tmp_path: Path
) -> None:
    jira_sink = sink(jira, tmp_path)
    jira_sink.send(merged("MNTOR-1", "MNTOR-2"))
    assert [jira.issues[k] for k in ("MNTOR-1", "MNTOR-2")] == ["In QA", "In QA"]
    jira_sink.send(deployed("MNTOR-1"))
    assert jira.issues["MNTOR-1"] == "Done"
    assert comment_texts(jira, "MNTOR-1") == [
        "Released in 2024.09.01 to prod by Shipyard (ana@example.com). "
        "https://ship.example/r/2024.09.01"
    ]
    assert list((tmp_path / "progress").iterdir()) == []


def test_429_is_retried_after_its_retry_after_and_resumes_without_doubling(
    jira: FakeJira, tmp_path: Path
) -> None:
    jira_sink = sink(jira, tmp_path)
    jira.path_faults = [("/MNTOR-2/comment", 429, {"Retry-After": "7"})]
    event = deployed("MNTOR-1", "MNTOR-2")
    with pytest.raises(NotifyError) as err:
        jira_sink.send(event)
    assert err.value.retryable and err.value.retry_after == 7.0
    jira_sink.send(event)  # the outbox's retry of the same event: resumes at MNTOR-2's comment
    assert len(comment_texts(jira, "MNTOR-1")) == 1 and len(comment_texts(jira, "MNTOR-2")) == 1
    transitions = [p for m, p, _ in jira.requests if m == "POST" and p.endswith("/transitions")]
    assert len(transitions) == 2
    assert list((tmp_path / "progress").iterdir()) == []


def test_the_outbox_waits_what_retry_after_says(jira: FakeJira, tmp_path: Path) -> None:
    jira.path_faults = [("/MNTOR-1/transitions", 429, {"Retry-After": "40"})]
    with Outbox(tmp_path / "outbox", [sink(jira, tmp_path)], autostart=False) as box:
        box.publish(merged("MNTOR-1"))
        result = box.drain(timeout=5.0)
        assert (result.delivered, result.retried) == (0, 1)
        [item] = box.pending()
        wait = item.next_attempt_at.timestamp() - time.time()
        assert 30 < wait <= 40 and item.last_error == "Jira answered 429: MNTOR-1: transitions"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried(jira: FakeJira, tmp_path: Path, status: int) -> None:
    jira_sink = sink(jira, tmp_path)
    jira.path_faults = [("/MNTOR-1/transitions", status, {})]
    with pytest.raises(NotifyError, match=f"Jira answered {status}") as err:
        jira_sink.send(merged("MNTOR-1"))
    assert err.value.retryable and err.value.retry_after is None
    jira_sink.send(merged("MNTOR-1"))
    assert jira.issues["MNTOR-1"] == "In QA"


def test_a_timeout_is_retried(jira: FakeJira, tmp_path: Path) -> None:
    jira.delay = 1.0
    with pytest.raises(NotifyError, match="cannot reach Jira") as err:
        sink(jira, tmp_path, timeout=0.2).send(merged("MNTOR-1"))
    assert err.value.retryable


def test_a_ticket_deleted_in_jira_is_given_up_on_and_reported(
    jira: FakeJira, tmp_path: Path
) -> None:
    del jira.issues["MNTOR-2"]
    with pytest.raises(NotifyError) as err:
        sink(jira, tmp_path).send(deployed("MNTOR-1", "MNTOR-2", "MNTOR-3"))
    assert not err.value.retryable
    assert err.value.message == "given up on MNTOR-2: not found in Jira (deleted?)"
    assert jira.issues["MNTOR-1"] == jira.issues["MNTOR-3"] == "Done"
    assert list((tmp_path / "progress").iterdir()) == []


def test_through_the_outbox_a_deleted_ticket_goes_to_dead_not_retried_forever(
    jira: FakeJira, tmp_path: Path
) -> None:
    del jira.issues["MNTOR-1"]
    with Outbox(tmp_path / "outbox", [sink(jira, tmp_path)], autostart=False) as box:
        box.publish(merged("MNTOR-1"))
        assert box.drain(timeout=5.0).dead == 1
        [dead] = box.dead()
        assert dead.attempts == 1 and "not found in Jira" in (dead.last_error or "")


def test_events_that_ask_nothing_of_jira_are_delivered_at_once(
    jira: FakeJira, tmp_path: Path
) -> None:
    jira_sink = sink(jira, tmp_path)
    jira_sink.send(
        Event(kind="deployment.succeeded", app="monitor", summary="stage", environment="stage")
    )
    assert jira.requests == []
