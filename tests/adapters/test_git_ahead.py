"""A range's log started ahead (``shipyard notes``): the reader takes that very process,
and the notes are the same as without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitfixtures import BOB, DEPENDABOT, GitBuilder
from shipyard.adapters.git import ahead
from shipyard.errors import GitError, NotFound
from shipyard.services.notes import render_range
from shipyard.services.notes_range import start_range_log


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    b = GitBuilder.init(tmp_path_factory.mktemp("ahead") / "repo")
    b.commit("Initial commit")
    b.tag("2024.09.01")
    for n in range(1, 30):
        b.pr(n, f"MNTOR-{n}-work", f"Add work {n} MNTOR-{n}", author=BOB)
        b.squash(100 + n, f"Bump dep {n}", author=DEPENDABOT)
    return b.path


def notes(path: Path, rng: str) -> str:
    return render_range(path, rng, prefixes=["MNTOR"], exclude_authors=["dependabot[bot]"])


def test_the_log_started_ahead_is_the_one_read(repo: Path) -> None:
    expected = notes(repo, "2024.09.01..main")
    start_range_log(repo, "2024.09.01..main")
    assert len(ahead._started) == 2  # the log and the list of its merges
    log, merges = ahead._started.values()
    assert merges.stdout is not None and log.stdout is not None
    assert notes(repo, "2024.09.01..main") == expected
    assert ahead._started == {}  # taken, read and reaped
    assert log.returncode == 0 and merges.returncode == 0 and merges.stdout.closed
    assert "29 changes, 29 by excluded authors left out" in expected


def test_a_bad_range_starts_nothing_and_fails_as_before(repo: Path) -> None:
    for rng in ("main", "a...b", "--output=x..main", "main..-x"):
        start_range_log(repo, rng)
    assert ahead._started == {}
    start_range_log(repo, "nope..main")  # git reports it: through the reader, as before
    with pytest.raises(NotFound, match="unknown revision: nope"):
        notes(repo, "nope..main")
    assert ahead._started == {}
    with pytest.raises(GitError, match="unsupported range"):
        notes(repo, "a...b")


def test_a_log_asked_for_another_environment_is_stopped(repo: Path) -> None:
    ahead.start_log(str(repo), ["main"])
    argv = ahead.git_argv(str(repo), ahead.log_args(["main"]))
    (started,) = ahead._started.values()
    assert ahead.take(argv, {**ahead.git_env(os.environ), "LC_ALL": "de_DE"}) is None
    assert started.returncode is not None and started.stdout.closed
    assert ahead.take(argv, ahead.git_env(os.environ)) is None  # gone


def test_without_posix_spawn_nothing_starts_ahead_and_the_notes_are_the_same(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = notes(repo, "2024.09.01..main")
    monkeypatch.delattr(os, "posix_spawnp")
    start_range_log(repo, "2024.09.01..main")
    assert ahead._started == {}
    assert notes(repo, "2024.09.01..main") == expected  # the authors through subprocess
