"""The built-in board on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from shipyard.adapters.tracker import VERIFIED
from shipyard.adapters.tracker.builtin import BuiltinTracker
from shipyard.store.db import open_store
from shipyard.store.models import App


def new_board(s: Session) -> BuiltinTracker:
    """The board of a new app "monitor" where MNTOR-1 and MNTOR-2 are merged."""
    app = App(name="monitor", repo=".", created_at=datetime.now(UTC))
    s.add(app)
    s.flush()
    board = BuiltinTracker(app.id, "monitor")
    board.record_merged(s, ["MNTOR-1", "MNTOR-2"], "a" * 40, "ana")
    return board


def test_a_key_the_board_never_saw_is_not_seen_by_qa_yet(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.write() as s:
            board = new_board(s)
            board.set_status(s, ["MNTOR-2"], VERIFIED, "quinn")
        with store.read() as s:
            keys = ["MNTOR-1", "MNTOR-2", "MNTOR-3"]
            assert board.statuses(s, keys) == {
                "MNTOR-1": "merged to main",
                "MNTOR-2": "verified",
                "MNTOR-3": "not seen by QA yet",
            }
            # The raw code stays "unknown": gates treat it as unverified.
            assert board.raw_statuses(s, keys)["MNTOR-3"] == "unknown"
            assert board.missing(s, ["MNTOR-3", "MNTOR-1", "MNTOR-3"]) == ["MNTOR-3"]
    finally:
        store.close()


def test_verifying_a_promoted_ticket_leaves_it_promoted_and_writes_no_audit(db_url: str) -> None:
    from sqlalchemy import func, select

    from shipyard.adapters.tracker import REJECTED
    from shipyard.store.models import AuditEvent

    store = open_store(db_url)
    try:
        with store.write() as s:
            board = new_board(s)
            board.set_status(s, ["MNTOR-1", "MNTOR-2"], VERIFIED, "quinn")
            board.promote(s, ["MNTOR-1"], "prod", "ana")
            events = s.scalar(select(func.count()).select_from(AuditEvent))
            (one, two) = board.set_status(s, ["MNTOR-1", "MNTOR-2"], VERIFIED, "quinn")
            # One event for MNTOR-2's new sign-off; none for the ticket already in prod.
            assert s.scalar(select(func.count()).select_from(AuditEvent)) == events + 1
            assert (one.key, one.status, one.promoted_to) == ("MNTOR-1", "promoted", "prod")
            assert two.status == "verified"
        with store.read() as s:
            assert board.statuses(s, ["MNTOR-1"]) == {"MNTOR-1": "promoted to prod"}
        with store.write() as s:  # a bug found in prod: QA may still reject it
            (t,) = board.set_status(s, ["MNTOR-1"], REJECTED, "quinn", reason="broken in prod")
            assert (t.status, t.promoted_to) == ("rejected", None)
    finally:
        store.close()
