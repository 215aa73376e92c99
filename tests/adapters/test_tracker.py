"""The built-in board on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from shipyard.adapters.tracker import VERIFIED
from shipyard.adapters.tracker.builtin import BuiltinTracker
from shipyard.store.db import open_store
from shipyard.store.models import App


def test_a_key_the_board_never_saw_is_not_seen_by_qa_yet(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.write() as s:
            app = App(name="monitor", repo=".", created_at=datetime.now(UTC))
            s.add(app)
            s.flush()
            board = BuiltinTracker(app.id, "monitor")
            board.record_merged(s, ["MNTOR-1", "MNTOR-2"], "a" * 40, "ana")
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
