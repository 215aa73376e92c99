"""A repository with history and a release tag before Shipyard's first sync:
the tickets since the tag are recorded, QA may verify any key main names, and
a key that is not a ticket here is refused with one line, changing nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Project, Result, make_project, stop_all

BO = ("Bo Dev", "bo@example.com")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """History before the first sync: MNTOR-1 released in 2024.09.01, then five changes."""
    p = make_project(tmp_path_factory.mktemp("history") / "monitor")
    try:
        r = p.repo
        r.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
        r.git("tag", "-a", "-m", "Release 2024.09.01", "2024.09.01")
        r.commit("Fix footer(#2)\n\nFixes Mntor-2.", p.features("footer"), author=BO)
        r.squash_pr(3, "Search kafka and MNTOR-3/4", p.features("search"), author=BO)
        r.merge_pr(5, "mntor-5-filters", "Add filters", [p.features("filters")], author=BO)
        r.commit("MNTOR-6 tidy up\n\nAs planned in MNTOR-1.", p.features("tidy"), author=BO)
        r.squash_pr(7, "Bump deps", p.features("deps"), author=BO)
        yield p
    finally:
        stop_all(p)


def tickets(p: Project) -> dict[str, str]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        return dict(db.execute("SELECT key, status FROM tickets ORDER BY key").fetchall())
    finally:
        db.close()


def audited(p: Project, action: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        return db.execute(
            "SELECT subject, actor FROM audit_events WHERE action = ? ORDER BY id", (action,)
        ).fetchall()
    finally:
        db.close()


def one_line_error(r: Result, expected: str) -> None:
    assert r.code != 0 and "Traceback" not in r.text, r.text
    assert r.err.strip().splitlines() == [f"error: {expected}"]


def test_first_sync_records_the_tickets_since_the_release_tag(live: Project) -> None:
    r = live.ok("sync")
    assert "recorded the tickets of 4 earlier changes on main" in r.out
    # MNTOR-1 was released before the tag; the body of MNTOR-6 names it in passing.
    assert tickets(live) == {f"MNTOR-{n}": "merged" for n in (2, 3, 4, 5, 6)}
    assert [s for s, _ in audited(live, "ticket.merged")] == [
        "MNTOR-2", "MNTOR-3", "MNTOR-4", "MNTOR-5", "MNTOR-6",
    ]  # fmt: skip
    listed = live.ok("tickets").out
    assert all(f"MNTOR-{n} " in listed for n in (2, 3, 4, 5, 6)) and "MNTOR-1 " not in listed
    # Only main's head was built.
    assert "build " + live.head()[:7] in r.out and r.out.count("→ build ") == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("qa", "verify", "FOO-1"), "'FOO-1' is not a ticket key here"),
        (("qa", "verify", "MNTOR-2", "kafka-3"), "'kafka-3' is not a ticket key here"),
        (("qa", "verify", "MNTOR-1/2"), "'MNTOR-1/2' is not a ticket key here"),
        (("qa", "verify", "MNTOR-999"), "unknown ticket: MNTOR-999 (no commit on main names it)"),
        (
            ("qa", "verify", "mntor-2", "MNTOR-998", "MNTOR-41"),
            "unknown tickets: MNTOR-998, MNTOR-41 (no commit on main names them)",
        ),
        (("qa", "reject", "mntor-99", "--reason", "broken"), "unknown ticket: MNTOR-99"),
    ],
)
def test_a_key_that_is_not_a_ticket_here_is_refused_and_nothing_changes(
    live: Project, args: tuple[str, ...], expected: str
) -> None:
    live.ok("sync")
    before = (tickets(live), audited(live, "ticket.merged"))
    r = live.run(*args, user="quinn@example.com")
    assert r.code != 0 and "Traceback" not in r.text, r.text
    [line] = r.err.strip().splitlines()
    assert line.startswith(f"error: {expected}"), line
    assert (tickets(live), audited(live, "ticket.merged")) == before


def test_qa_verifies_a_lower_case_key_from_before_the_first_sync(live: Project) -> None:
    live.ok("sync")
    r = live.ok("qa", "verify", "mntor-1", "Mntor-2", user="quinn@example.com")
    assert r.out.splitlines() == [
        "✓ MNTOR-1 verified by quinn@example.com",
        "✓ MNTOR-2 verified by quinn@example.com",
    ]
    assert tickets(live)["MNTOR-1"] == "verified" and tickets(live)["MNTOR-2"] == "verified"
    # The ticket was recorded, by QA, before it moved; both audited.
    assert ("MNTOR-1", "quinn@example.com") in audited(live, "ticket.merged")
    assert audited(live, "ticket.verified")[-2:] == [
        ("MNTOR-1", "quinn@example.com"),
        ("MNTOR-2", "quinn@example.com"),
    ]
    r = live.ok("qa", "reject", "mntor-3", "--reason", "search is slow", user="quinn@example.com")
    assert r.out.strip() == "✗ MNTOR-3 rejected by quinn@example.com: search is slow"
    assert tickets(live)["MNTOR-3"] == "rejected"


def set_since(p: Project, ref: str) -> None:
    toml = p.path / "shipyard.toml"
    lines = [x for x in toml.read_text().splitlines() if not x.startswith("since = ")]
    toml.write_text("\n".join(lines).replace("[app]", f'[app]\nsince = "{ref}"', 1) + "\n")


def test_since_names_where_the_first_sync_starts(tmp_path: Path) -> None:
    p = make_project(tmp_path / "monitor")
    try:
        p.repo.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
        start = p.head()
        p.repo.squash_pr(2, "Add filters MNTOR-2", p.features("filters"), author=BO)
        p.repo.squash_pr(3, "Add search MNTOR-3", p.features("search"), author=BO)
        set_since(p, "nope")
        one_line_error(p.run("sync"), "app -> since: unknown revision 'nope'")
        assert tickets(p) == {}
        # The refused sync recorded nothing, so the next one is still the first.
        set_since(p, start[:10])
        p.ok("sync")
        assert tickets(p) == {"MNTOR-2": "merged", "MNTOR-3": "merged"}
    finally:
        stop_all(p)


def test_without_a_release_tag_sync_records_the_head_and_says_so(tmp_path: Path) -> None:
    p = make_project(tmp_path / "monitor")
    try:
        p.repo.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
        p.repo.squash_pr(2, "Add filters MNTOR-2", p.features("filters"), author=BO)
        r = p.ok("sync")
        assert (
            f"no release tag on main: tickets merged before {p.head()[:7]} are not recorded "
            '([app] since = "<ref>" records them)' in r.err
        )
        assert tickets(p) == {"MNTOR-2": "merged"}
        # QA may still verify MNTOR-1: main names it.
        p.ok("qa", "verify", "MNTOR-1")
        assert tickets(p) == {"MNTOR-1": "verified", "MNTOR-2": "merged"}
    finally:
        stop_all(p)
