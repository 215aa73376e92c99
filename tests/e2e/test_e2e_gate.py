"""The E2E gate through the real CLI: dev's ``e2e`` command runs against stage's real
URL; a deploy to dev needs the last run on its commit to have passed."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator

import pytest

from conftest import Project, make_project, stop_all

BO = ("Bo Dev", "bo@example.com")

# A tiny end-to-end suite: every path in PATHS must answer 200 on the URL it is given,
# and the version served must be the commit under test.
E2E = """\
import json, os, sys, urllib.error, urllib.request
base = sys.argv[1]
PATHS = {paths!r}
with urllib.request.urlopen(base + "__version__", timeout=5) as r:
    served = json.load(r)["commit"]
print("serving", served[:7])
if served != os.environ["SHIPYARD_COMMIT"]:
    sys.exit("not the commit under test")
for path in PATHS:
    try:
        with urllib.request.urlopen(base + path.lstrip("/"), timeout=5) as r:
            print("GET", path, r.status)
    except urllib.error.HTTPError as e:
        print("GET", path, e.code)
        sys.exit(1)
print("E2E_SECRET_PROBE", os.environ.get("SHIPYARD_DATABASE_URL", "hidden"))
"""


@pytest.fixture(scope="module")
def p(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = make_project(tmp_path_factory.mktemp("e2e-gate") / "monitor")
    try:
        toml = (project.path / "shipyard.toml").read_text()
        dev = toml.index("[environments.dev]")
        at = toml.index('after = "stage"', dev) + len('after = "stage"')
        line = f'\ne2e = "{sys.executable} e2e.py {{url}}"\ne2e_timeout = 60'
        project.repo.commit(
            "Run E2E against stage before dev",
            {"shipyard.toml": toml[:at] + line + toml[at:], "e2e.py": E2E.format(paths=["/"])},
            author=BO,
        )
        project.ok("sync")
        yield project
    finally:
        stop_all(project)


def _runs(p: Project) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        return db.execute('SELECT "commit", status, log FROM e2e_runs ORDER BY id').fetchall()
    finally:
        db.close()


def test_no_run_yet_refuses(p: Project) -> None:
    sha = p.head()[:7]
    r = p.run("deploy", "dev", sha, "--yes")
    assert r.code == 3, r.text
    assert f"no E2E run of {sha} against stage yet: 'shipyard e2e dev {sha}'" in r.err
    assert p.served("dev") is None


def test_a_passing_run_opens_the_gate(p: Project) -> None:
    sha = p.head()[:7]
    r = p.ok("e2e", "dev")
    assert f"E2E run #1 of {sha} against stage passed" in r.out
    assert "GET / 200" in r.out
    ((commit, status, log),) = _runs(p)
    assert commit == p.head() and status == "passed" and "serving " + sha in log
    # The command sees the allow-listed environment only.
    assert "E2E_SECRET_PROBE hidden" in log
    r = p.ok("deploy", "dev", sha, "--yes")
    assert f"e2e: E2E against stage passed on {sha} (run #1)" in r.out
    assert p.served("dev") == p.head()


def test_a_failing_run_closes_it(p: Project) -> None:
    p.repo.squash_pr(
        3, "Test the checkout MNTOR-3", {"e2e.py": E2E.format(paths=["/", "/checkout"])}, author=BO
    )
    p.ok("sync")
    sha = p.head()[:7]
    r = p.run("e2e", "dev", sha)
    assert r.code == 3, r.text
    assert "GET /checkout 404" in r.out
    assert f"E2E run #2 of {sha} against stage failed" in r.err
    assert _runs(p)[-1][1] == "failed"
    before = p.served("dev")
    r = p.run("deploy", "dev", sha, "--yes")
    assert r.code == 3 and f"the last E2E run of {sha} against stage failed (run #2)" in r.err
    assert p.served("dev") == before


def test_a_run_tests_only_what_the_upstream_runs(p: Project) -> None:
    old = p.repo.git("rev-parse", "HEAD~1").strip()[:7]
    n = len(_runs(p))
    r = p.run("e2e", "dev", old)
    assert r.code == 3, r.text
    assert f"stage runs {p.head()[:7]}, not {old}" in r.err
    r = p.run("e2e", "stage")
    assert r.code == 1 and "stage has no e2e command" in r.err
    assert len(_runs(p)) == n


def test_a_run_that_hangs_is_stopped_with_what_it_started(p: Project) -> None:
    toml = p.path / "shipyard.toml"
    kept = toml.read_text()
    hang = "import subprocess, sys; print('started', flush=True); subprocess.run(['sleep', '300'])"
    start = kept.index("e2e = ")
    end = kept.index("e2e_timeout = 60") + len("e2e_timeout = 60")
    line = f'e2e = "{sys.executable} -c \\"{hang}\\""\ne2e_timeout = 1'
    toml.write_text(kept[:start] + line + kept[end:])
    try:
        r = p.run("e2e", "dev", timeout=60)
    finally:
        toml.write_text(kept)
    assert r.code == 3, r.text
    assert "started" in r.out and "[shipyard] timed out after 1s" in r.out
    assert "failed" in r.err and _runs(p)[-1][1] == "failed"
