"""``shipyard gc`` through the real CLI on a real repository and database: the retention
policy removes old artifacts, never what an environment runs, what its rollback returns
to, or what a release points at; a collected build's deploy is refused in one line until
``shipyard rebuild``; with ``gc = "auto"`` a sync collects on its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import RELEASER, Project, make_project, stop_all


def policy(db_url: str, keep: int, gc: str) -> str:
    return f'\n[state]\ndatabase_url = "{db_url}"\n\n[artifacts]\nkeep = {keep}\ngc = "{gc}"\n'


@pytest.fixture
def manual(tmp_path: Path, db_url: str) -> Iterator[Project]:
    p = make_project(tmp_path / "monitor", policy(db_url, keep=1, gc="manual"))
    try:
        yield p
    finally:
        stop_all(p)


def blobs(p: Project) -> Path:
    return p.path / ".shipyard" / "artifacts" / "monitor" / "blobs"


def add(p: Project, feature: str) -> str:
    return p.repo.commit(f"Add {feature}", p.features(feature), author=RELEASER)


def test_gc_keeps_what_runs_rolls_back_or_is_released(manual: Project) -> None:
    p = manual
    p.ok("sync")
    a = p.head()
    b = add(p, "b")
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-01")  # on b, what stage runs
    c = add(p, "c")
    p.ok("sync")
    d = add(p, "d")
    p.ok("sync")
    e, f = add(p, "e"), add(p, "f")
    p.ok("sync")
    assert p.served("stage") == f
    assert len(list(blobs(p).iterdir())) == 6

    dry = p.ok("gc", "--dry-run").out
    assert "dry run: 2 artifacts would be removed" in dry
    assert len(list(blobs(p).iterdir())) == 6  # nothing removed

    out = p.ok("gc").out
    lines = {
        sha: next(ln for ln in out.splitlines() if sha[:7] in ln) for sha in (a, b, c, d, e, f)
    }
    assert "stage runs it" in lines[f]
    assert "'shipyard rollback stage' returns to it" in lines[d]
    assert "release 2024.09.01 points at it" in lines[b]
    assert "kept" in lines[e] and "newest" in lines[e]
    assert "removed" in lines[c] and "removed" in lines[a]
    assert "removed 2 artifacts" in out
    assert len(list(blobs(p).iterdir())) == 4
    assert a[:7] not in p.artifact_tags() and c[:7] not in p.artifact_tags()
    assert p.ok("builds").out.count("(artifact collected)") == 2
    assert "artifacts.collected" in p.ok("audit", "log").out

    refused = p.run("deploy", "dev", c[:7], "--yes")
    assert refused.code != 0
    assert f"artifact of {c[:7]} collected by gc; rebuild with 'shipyard rebuild {c[:7]}'" in (
        refused.text
    )
    assert "Traceback" not in refused.text
    assert p.served("dev") is None

    again = p.ok("rebuild", c[:7]).out
    assert f"{c[:7]} has its artifact again" in again
    assert len(list(blobs(p).iterdir())) == 5
    assert p.ok("builds").out.count("(artifact collected)") == 1
    p.ok("deploy", "dev", c[:7], "--yes")
    assert p.served("dev") == c
    assert p.run("rebuild", c[:7]).code != 0  # nothing to rebuild now


def test_a_sync_collects_on_its_own_with_gc_auto(tmp_path: Path, db_url: str) -> None:
    p = make_project(tmp_path / "monitor", policy(db_url, keep=0, gc="auto"))
    try:
        p.ok("sync")
        a = p.head()
        add(p, "b")
        p.ok("sync")  # a: what a rollback of stage returns to
        assert len(list(blobs(p).iterdir())) == 2
        add(p, "c")
        p.ok("sync")
        assert len(list(blobs(p).iterdir())) == 2  # a's went; b (rollback) and c (runs) stay
        assert a[:7] not in p.artifact_tags()
        builds = p.ok("builds").out
        assert next(ln for ln in builds.splitlines() if a[:7] in ln).count("artifact collected")
    finally:
        stop_all(p)
