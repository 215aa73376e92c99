"""bench/promote_jira.py at a tiny scale: the Promote page is served and fetched logged in,
with Jira (the double) and with the built-in tracker, and Jira is asked once cold and
never warm. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "promote_jira.py"


def test_the_promote_page_asks_jira_once_cold_and_never_warm() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tickets", "20", "--rounds", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["tickets"] == 20
    assert summary["reads"]["cold_searches"] == [20] and summary["reads"]["warm_requests"] == 0
    page = summary["page"]
    assert page["cold_requests"] == 1 and page["warm_requests"] == 0
    assert page["cold_ratio"] > 0 and page["warm_ratio"] > 0
