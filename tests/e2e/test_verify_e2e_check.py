"""The E2E command as a verification check, through the real CLI: dev's ``e2e`` command
runs against stage before the deploy (the gate) and, with ``{ kind = "e2e" }``, against
dev's own URL in the window after the switch; when it fails there, dev is rolled back."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from conftest import Project, make_project, stop_all

BO = ("Bo Dev", "bo@example.com")

# Each URL it is given goes into e2e-urls.log; it fails when E2E_BREAK exists (a suite
# that finds the new version broken) or when / does not answer 200.
E2E = """\
import sys, urllib.request
from pathlib import Path
base = sys.argv[1].rstrip("/") + "/"
with open("e2e-urls.log", "a") as log:
    log.write(base + "\\n")
with urllib.request.urlopen(base, timeout=5) as r:
    print("GET /", r.status)
if Path("E2E_BREAK").exists():
    sys.exit("the checkout flow is broken")
"""


def _configure(p: Project) -> None:
    toml = (p.path / "shipyard.toml").read_text()
    dev = toml.index("[environments.dev]")
    at = toml.index('after = "stage"', dev) + len('after = "stage"')
    lines = (
        f'\ne2e = "{sys.executable} e2e.py {{url}}"\ne2e_timeout = 60\n'
        'verify_for = "2s"\non_fail = "rollback"'
    )
    text = toml[:at] + lines + toml[at:] + '\n[[environments.dev.checks]]\nkind = "e2e"\n'
    p.repo.commit("Run E2E before and after dev", {"shipyard.toml": text, "e2e.py": E2E}, author=BO)
    p.ok("sync")


def _last_dev(p: Project) -> tuple[str, str, dict[str, Any]]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        commit, state, v = db.execute(
            'SELECT d."commit", d.state, d.verification FROM deployments d JOIN environments e'
            " ON e.id = d.environment_id WHERE e.name = 'dev' ORDER BY d.id DESC LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    return commit, state, json.loads(v)


def test_the_e2e_check_tests_the_new_version_and_rolls_back_when_it_fails(
    tmp_path: Path,
) -> None:
    p = make_project(tmp_path / "monitor")
    try:
        _flow(p)
    finally:
        stop_all(p)


def _flow(p: Project) -> None:
    _configure(p)
    good = p.head()
    p.ok("e2e", "dev")  # the gate: against stage
    r = p.ok("deploy", "dev", good[:7], "--yes")
    assert "verification pass" in r.out and "e2e: passed in" in r.out, r.out
    urls = (p.path / "e2e-urls.log").read_text().split()
    assert [u.rsplit(":", 1)[-1] for u in urls] == [f"{p.ports['stage']}/", f"{p.ports['dev']}/"]
    commit, state, v = _last_dev(p)
    assert (commit, state, v["verdict"]) == (good, "succeeded", "pass")
    assert [c["check"] for c in v["checks"]] == ["e2e"]

    bad = p.repo.squash_pr(2, "New checkout MNTOR-2", p.features("checkout"), author=BO)
    p.ok("sync")
    p.ok("e2e", "dev")  # the gate passes against stage
    (p.path / "E2E_BREAK").write_text("")  # ...and the suite then finds dev broken
    r = p.run("deploy", "dev", bad[:7], "--yes", timeout=180)
    assert r.code == 4 and "Traceback" not in r.text, r.text
    last = r.err.strip().splitlines()[-1]
    assert "verification fail" in last and "e2e: exit 1" in last, r.text
    assert "the checkout flow is broken" in last and "rolled back to" in last, r.text
    assert p.served("dev") == good
    commit, state, v = _last_dev(p)
    assert (commit, state, v["verdict"]) == (bad, "rolled_back", "fail")
    assert len((p.path / "e2e-urls.log").read_text().split()) == 4  # once per window
