"""The merged branches' authors looked up from the range's merge list while the log
streams: the same answers as one ``git log --format=%an/%ae`` after it, whatever the
commits hold and whatever moved in between."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitfixtures import ALICE, BOB, GitBuilder
from shipyard.adapters.git import GitRepo, ahead, authors
from shipyard.adapters.git.authors import log_authors
from shipyard.core.changes import iter_changes

CAROL = ("Zoë Ångström ", "zoe@example.com")  # non-ASCII, a trailing space git trims


def _raw_commit(path: Path, content: bytes) -> str:
    """Write a commit object as given (another encoding, an odd ident): its SHA."""
    return subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin", "--literally"],
        cwd=path, input=content, capture_output=True, check=True,
    ).stdout.decode().strip()  # fmt: skip


def _merge(builder: GitBuilder, second: str, number: int) -> str:
    """A GitHub-style merge of ``second`` into main, made with plumbing."""
    tree = builder.git("rev-parse", "main^{tree}")
    message = f"Merge pull request #{number} from org/raw-{number}\n\nRaw change {number}"
    sha = builder.git("commit-tree", tree, "-p", "main", "-p", second, "-m", message)
    builder.git("update-ref", "refs/heads/main", sha)
    return sha


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[GitBuilder, list[str]]:
    """main: many PR merges by various authors, one in ISO-8859-1, one with a broken ident.

    Built once for the module: the tests only read it."""
    b = GitBuilder.init(tmp_path_factory.mktemp("authors") / "repo")
    base = b.commit("Initial commit")
    for n in range(1, 41):
        b.pr(n, f"MNTOR-{n}-work", f"Work {n}", author=(BOB, ALICE, CAROL)[n % 3])
    tree = b.git("rev-parse", "main^{tree}")
    latin = _raw_commit(
        b.path,
        f"tree {tree}\nparent {base}\n".encode()
        + b"author Jos\xe9 Pe\xf1a <jose@example.com> 1700000000 +0000\n"
        + b"committer Jos\xe9 <jose@example.com> 1700000000 +0000\n"
        + b"encoding ISO-8859-1\n\nCaf\xe9\n",
    )
    broken = _raw_commit(
        b.path,
        f"tree {tree}\nparent {base}\n".encode()
        + b"author No Email 1700000000 +0000\n"
        + b"committer No Email 1700000000 +0000\n\nBroken ident\n",
    )
    _merge(b, latin, 41)
    _merge(b, broken, 42)
    for n in range(43, 46):
        b.pr(n, f"more-{n}", f"More {n}", author=CAROL)
    return b, [base]


def _seconds(repo: GitRepo, since: str) -> list[str]:
    records = repo.iter_log_records(since, "main")
    return [parents.split()[1] for _, parents, *_ in records if " " in parents]


@pytest.mark.parametrize("listed_ahead", [False, True])
def test_lookup_answers_as_git_log(
    history: tuple[GitBuilder, list[str]], listed_ahead: bool
) -> None:
    """With the merge list started by the reader, or ahead of it as ``shipyard notes``
    does (``ahead.start_merge_list``, which the reader then takes)."""
    b, (base,) = history
    plain = GitRepo(b.path)
    expected = log_authors(plain.run, _seconds(plain, base))
    assert len(expected) == 45
    assert ("José Peña", "jose@example.com") in expected.values()  # re-encoded by git
    assert ("Zoë Ångström", "zoe@example.com") in expected.values()

    if listed_ahead:
        ahead.start_merge_list(str(b.path), ["main", f"^{base}"])
        assert len(ahead._started) == 1
    repo = GitRepo(b.path, merge_authors=True)
    seconds = _seconds(repo, base)
    assert ahead._started == {}  # taken, not left running
    assert repo.authors_of(seconds) == expected
    # The answers were taken once: a second call asks git log again, same answers.
    assert repo.authors_of(seconds[:3]) == {s: expected[s] for s in seconds[:3]}


def test_a_merge_the_list_missed_is_asked_again(tmp_path: Path) -> None:
    """main moves between the merge list and the log: the new merge's author is still
    the one git log gives."""
    b = GitBuilder.init(tmp_path / "repo")
    base = b.commit("Initial commit")
    b.pr(1, "MNTOR-1-one", "One", author=BOB)
    ahead.start_merge_list(str(b.path), ["main", f"^{base}"])
    (listing,) = ahead._started.values()
    listing.wait()  # listed before main moves
    b.pr(2, "MNTOR-2-two", "Two", author=CAROL)
    repo = GitRepo(b.path, merge_authors=True)
    changes = list(iter_changes(repo, base, "main", ["MNTOR"]))
    assert [(c.pr, c.author) for c in changes] == [(2, "Zoë Ångström"), (1, BOB[0])]


def test_a_failed_list_leaves_the_answers_to_git_log(
    history: tuple[GitBuilder, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge list cannot run (git fails): the authors come from one git log after."""
    b, (base,) = history
    monkeypatch.setattr(authors, "merge_list_args", lambda revs: ["rev-list", "--no-such-option"])
    plain = GitRepo(b.path)
    expected = log_authors(plain.run, _seconds(plain, base))
    repo = GitRepo(b.path, merge_authors=True)
    assert repo.authors_of(_seconds(repo, base)) == expected


def test_changes_credit_the_same_authors(history: tuple[GitBuilder, list[str]]) -> None:
    b, (base,) = history
    plain = list(iter_changes(GitRepo(b.path), base, "main", ["MNTOR"]))
    ahead = list(iter_changes(GitRepo(b.path, merge_authors=True), base, "main", ["MNTOR"]))
    assert ahead == plain
    assert {c.author for c in ahead} >= {BOB[0], ALICE[0], "Zoë Ångström", "José Peña"}


def test_stopping_the_log_early_drops_the_lookup(history: tuple[GitBuilder, list[str]]) -> None:
    b, (base,) = history
    repo = GitRepo(b.path, merge_authors=True)
    records = repo.iter_log_records(base, "main")
    first = next(records)
    records.close()  # git's batch is stopped; authors_of asks git log
    second = first[1].split()[1]
    assert repo.authors_of([second]) == log_authors(repo.run, [second])
