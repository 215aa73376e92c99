"""``shipyard notes``: its quick path behaves like every other command."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import make_project, stop_all

BO = ("Bo Dev", "bo@example.com")

GROUPS = """
[[releases.groups]]
key = "ui"
title = "Interface"
match = "^(add|show)"

[[releases.groups]]
key = "rest"
title = "Everything else"
"""


def test_notes_use_configured_groups_statuses_and_one_line_errors(tmp_path: Path) -> None:
    p = make_project(tmp_path / "monitor", extra=GROUPS)
    try:
        base = p.head()
        p.ok("sync")
        p.repo.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
        p.repo.squash_pr(2, "Fix footer MNTOR-2", p.features("footer"), author=BO)
        r = p.ok("notes", f"{base[:7]}..main")
        assert "## Interface" in r.out and "## Everything else" in r.out
        # No database yet: no ticket has been seen by QA.
        assert "| MNTOR-1 | not seen by QA yet |" in r.out
        p.ok("sync", "--no-deploy")
        p.ok("qa", "verify", "MNTOR-1")
        data = json.loads(p.ok("notes", "--json", f"{base[:7]}..main").out)
        assert [s["key"] for s in data["sections"]] == ["ui", "rest"]
        assert {t["key"]: t["status"] for t in data["tickets"]} == {
            "MNTOR-1": "verified",
            "MNTOR-2": "merged to main",
        }
        # The sides swapped: empty, and said so on stderr (the notes themselves unchanged).
        r = p.ok("notes", f"main..{base[:7]}")
        assert "0 changes" in r.out
        assert r.err.strip() == (
            f"! {base[:7]} is behind main, so main..{base[:7]} is empty: "
            f"did you mean {base[:7]}..main?"
        )
        assert p.ok("notes", "main..main").err == ""  # empty, but nothing swapped
        r = p.run("notes", "nope..main")
        assert r.code == 1 and r.err.strip() == "error: unknown revision: nope"
        assert "Usage: shipyard notes" in p.ok("notes", "--help").out
        r = p.run("notes", "a..b", "c..d")  # not the quick path's shape: Typer answers
        assert r.code == 2 and "Traceback" not in r.err
    finally:
        stop_all(p)
