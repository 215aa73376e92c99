"""History's sentences and QA sign-offs, on a real SQLite store."""

from __future__ import annotations

from pathlib import Path

from shipyard.services.history import Filters, read_history, sentence, signoffs
from shipyard.store import audit
from shipyard.store.db import open_store


def test_each_action_reads_as_a_sentence_and_unknown_ones_plainly() -> None:
    assert sentence("ticket.verified", "qa", "MNTOR-1", {"from": "merged"}) == "qa verified MNTOR-1"
    assert sentence("ticket.rejected", "qa", "MNTOR-1", {"reason": None}) == "qa rejected MNTOR-1"
    assert (
        sentence("deployment.refused", "ana", "prod", {"ref": "2024.09.03", "reason": "QA"})
        == "ana was refused deploying 2024.09.03 to prod: QA"
    )
    assert (
        sentence("deployment.rolling_out", "ana", "prod#4", {"ref": "2024.09.03"})
        == "deployment #4 of 2024.09.03 to prod: rolling out"
    )
    assert sentence("webhook.github.push", "github", "d-1", {}) == "github: webhook github push d-1"
    assert "{" not in sentence("release.prerelease", "ana", "2024.09.03", {})


def test_signoffs_keep_who_verified_after_a_promotion_and_history_pages(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:

        def add(actor: str, action: str, subject: str, app: str = "monitor") -> None:
            store.retrying(
                lambda s: audit.append(s, actor=actor, app=app, action=action, subject=subject)
            )

        add("qa1", "ticket.rejected", "MNTOR-1")
        add("qa2", "ticket.verified", "MNTOR-1")
        add("ana", "ticket.promoted", "MNTOR-1")
        add("qa3", "ticket.verified", "MNTOR-1", app="other")
        found = signoffs(store, "monitor", ["MNTOR-1", "MNTOR-2"])
        assert list(found) == ["MNTOR-1"]
        assert (found["MNTOR-1"].status, found["MNTOR-1"].by) == ("verified", "qa2")

        for i in range(55):
            add("bot", "app.noted", f"n{i}")
        first = read_history(store, Filters(app="monitor"))
        assert first.older and len(first.events) == 50
        second = read_history(store, Filters(app="monitor"), page=2)
        assert not second.older and [e.event.subject for e in second.events][-1] == "MNTOR-1"
        assert read_history(store, Filters(user="qa3")).events[0].sentence == "qa3 verified MNTOR-1"
    finally:
        store.close()
