from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitfixtures import ALICE, BOB, DEPENDABOT, MERGER, GitBuilder
from shipyard.adapters.git import GitRepo
from shipyard.core.changes import Change, CommitInfo, classify, iter_changes
from shipyard.core.tickets import KeySources, ticket_finder

FIND = ticket_finder(("MNTOR",))


def info(message: str, parents: int = 1) -> CommitInfo:
    return CommitInfo(
        sha="c" * 40,
        parents=tuple(f"{i}" * 40 for i in range(parents)),
        author_name=ALICE[0],
        author_email=ALICE[1],
        authored_at=1_725_000_000,
        message=message,
    )


def test_merge_commit() -> None:
    message = "Merge pull request #12 from org/MNTOR-12-login\n\nAdd login form\n\nMore text"
    change = classify(info(message, parents=2), FIND, pr_author=BOB)
    assert change == Change(
        sha="c" * 40, title="Add login form", author=BOB[0], author_email=BOB[1], pr=12,
        kind="merge", tickets=("MNTOR-12",), reverts=None, is_revert=False,
        is_rerevert=False, authored_at=1_725_000_000,
    )  # fmt: skip
    assert change.ref == "#12"


def test_merge_tickets_from_title_and_lowercase_branch_not_the_body() -> None:
    message = "Merge pull request #3 from me/mntor-7-thing\n\nFix it MNTOR-5\n\nsee MNTOR-6"
    change = classify(info(message, parents=2), FIND)
    # The body mentions MNTOR-6 in passing: by default it counts only when the
    # title names no key.
    assert change.tickets == ("MNTOR-5", "MNTOR-7")
    # Without the second parent's author the merge's own author is used.
    assert change.author == ALICE[0]


def test_merge_body_counts_when_the_title_names_no_key() -> None:
    message = "Merge pull request #3 from me/mntor-7-thing\n\nFix it\n\nfor MNTOR-6"
    assert classify(info(message, parents=2), FIND).tickets == ("MNTOR-7", "MNTOR-6")


@pytest.mark.parametrize(
    ("sources", "tickets"),
    [
        (KeySources(), ("KAFKA-1",)),
        (KeySources(body="always"), ("KAFKA-1", "KAFKA-2")),
        (KeySources(title=False, body="always"), ("KAFKA-2",)),
    ],
)
def test_squash_keys_by_source(sources: KeySources, tickets: tuple[str, ...]) -> None:
    message = "Kafka-1: fix the fetcher (#34)\n\nFollows KAFKA-2, long fixed."
    change = classify(info(message), ticket_finder(("KAFKA",)), sources=sources)
    assert (change.pr, change.tickets) == (34, tickets)


def test_keys_in_any_case_and_slashed_keys() -> None:
    change = classify(info("kafka-14837/14842: Kafka-9 too"), ticket_finder(("KAFKA",)))
    assert change.tickets == ("KAFKA-14837", "KAFKA-14842", "KAFKA-9")


def test_merge_without_title_falls_back_to_branch() -> None:
    change = classify(info("Merge pull request #3 from me/cleanup", parents=2), FIND)
    assert (change.title, change.pr, change.kind) == ("cleanup", 3, "merge")


def test_other_merge_commit() -> None:
    change = classify(info("Merge branch 'release' into main", parents=2), FIND)
    assert (change.title, change.pr, change.kind) == (
        "Merge branch 'release' into main",
        None,
        "merge",
    )


@pytest.mark.parametrize(
    ("subject", "title", "pr"),
    [
        ("Fix login (#34)", "Fix login", 34),
        ("Fix thing(#123)", "Fix thing", 123),
        ("Fix thing  (#123)", "Fix thing", 123),
        ("Fix login MNTOR-1 (#34)", "Fix login MNTOR-1", 34),
        ("Backport (#3) (#34)", "Backport (#3)", 34),
        ("Fix (#x)", "Fix (#x)", None),
        ("Fix login (see #34) now", "Fix login (see #34) now", None),
        ("(#34)", "(#34)", None),
    ],
)
def test_squash_and_direct(subject: str, title: str, pr: int | None) -> None:
    change = classify(info(subject), FIND)
    assert (change.title, change.pr) == (title, pr)
    assert change.kind == ("squash" if pr else "direct")
    assert change.ref == (f"#{pr}" if pr else "c" * 10)


def test_revert_shapes() -> None:
    sha = "a" * 40
    revert = classify(info(f'Revert "Add x"\n\nThis reverts commit {sha}.'), FIND)
    assert (revert.is_revert, revert.is_rerevert, revert.reverts) == (True, False, sha)
    rere = classify(info(f'Revert "Revert "Add x""\n\nThis reverts commit {sha}.'), FIND)
    assert (rere.is_revert, rere.is_rerevert, rere.reverts) == (False, True, sha)
    reapply = classify(info(f'Reapply "Add x"\n\nThis reverts commit {sha}.'), FIND)
    assert (reapply.is_revert, reapply.is_rerevert) == (False, True)
    triple = classify(info('Revert "Revert "Revert "Add x"""'), FIND)
    assert (triple.is_revert, triple.is_rerevert, triple.reverts) == (True, False, None)
    body_only = classify(info(f"Undo x\n\nThis reverts commit {sha[:12]}."), FIND)
    assert (body_only.is_revert, body_only.reverts) == (True, sha[:12])
    squash = classify(info('Revert "Add x (#3)" (#9)'), FIND)
    assert (squash.title, squash.pr, squash.is_revert) == ('Revert "Add x (#3)"', 9, True)
    plain = classify(info("Reverting is fine\n\nThis text reverts commit nothing."), FIND)
    assert (plain.is_revert, plain.is_rerevert, plain.reverts) == (False, False, None)


def test_revert_pr_merge() -> None:
    message = 'Merge pull request #20 from org/revert-12-MNTOR-12-login\n\nRevert "Add login"'
    change = classify(info(message, parents=2), FIND)
    assert (change.is_revert, change.pr, change.tickets) == (True, 20, ("MNTOR-12",))


@pytest.fixture
def history(tmp_path: Path) -> tuple[GitBuilder, dict[str, str]]:
    b = GitBuilder.init(tmp_path / "repo")
    shas = {"base": b.commit("Initial commit")}
    b.tag("2024.09.01")
    b.branch("MNTOR-12-login")
    b.commit("Add login form MNTOR-12", author=BOB)
    b.commit("Address review", author=BOB)
    shas["login"] = b.merge_pr(12, "MNTOR-12-login", "Add login form")
    shas["squash"] = b.squash(13, "Fix crash on logout", body="Fixes MNTOR-13, not CVE-2024-1234")
    shas["direct"] = b.commit("Update docs", author=ALICE)
    b.branch("dependabot/npm/lodash")
    b.commit("Bump lodash from 1.0 to 1.1", author=DEPENDABOT)
    shas["bump"] = b.merge_pr(14, "dependabot/npm/lodash", "Bump lodash from 1.0 to 1.1")
    shas["revert"] = b.revert(shas["squash"])
    shas["rerevert"] = b.revert(shas["revert"])
    return b, shas


def test_iter_changes_on_real_history(history: tuple[GitBuilder, dict[str, str]]) -> None:
    b, s = history
    changes = list(iter_changes(GitRepo(b.path), s["base"], "main", ["MNTOR"]))
    assert [c.sha for c in changes] == [
        s["rerevert"], s["revert"], s["bump"], s["direct"], s["squash"], s["login"],
    ]  # fmt: skip
    by_sha = {c.sha: c for c in changes}

    login = by_sha[s["login"]]
    assert (login.title, login.pr, login.kind, login.tickets) == (
        "Add login form", 12, "merge", ("MNTOR-12",),
    )  # fmt: skip
    assert (login.author, login.author_email) == BOB  # the PR author, not the merger
    assert (login.author, login.author_email) != MERGER

    squash = by_sha[s["squash"]]
    assert (squash.title, squash.pr, squash.kind, squash.tickets) == (
        "Fix crash on logout", 13, "squash", ("MNTOR-13",),
    )  # fmt: skip
    assert by_sha[s["direct"]].kind == "direct"
    assert by_sha[s["bump"]].author == DEPENDABOT[0]

    revert = by_sha[s["revert"]]
    assert revert.title == 'Revert "Fix crash on logout (#13)"'
    assert (revert.is_revert, revert.is_rerevert, revert.reverts) == (True, False, s["squash"])
    rerevert = by_sha[s["rerevert"]]
    assert rerevert.is_rerevert and not rerevert.is_revert
    assert rerevert.reverts == s["revert"]


def test_iter_changes_whole_history_and_empty_range(
    history: tuple[GitBuilder, dict[str, str]],
) -> None:
    b, _ = history
    repo = GitRepo(b.path)
    assert len(list(iter_changes(repo, None, "main", ["MNTOR"]))) == 7
    assert list(iter_changes(repo, "main", "main", ["MNTOR"])) == []


class CountingRepo:
    """Wraps a GitRepo to count the git calls iter_changes makes."""

    def __init__(self, repo: GitRepo) -> None:
        self.repo = repo
        self.calls: list[str] = []

    def iter_log_records(
        self, since: str | None, until: str, *, first_parent: bool = True
    ) -> Iterator[tuple[str, str, str, str, str, str]]:
        self.calls.append("git log")
        return self.repo.iter_log_records(since, until, first_parent=first_parent)

    def authors_of(self, shas: list[str]) -> dict[str, tuple[str, str]]:
        self.calls.append("authors_of")
        return self.repo.authors_of(shas)


def test_iter_changes_batches_author_lookups(history: tuple[GitBuilder, dict[str, str]]) -> None:
    b, s = history
    counting = CountingRepo(GitRepo(b.path))
    list(iter_changes(counting, s["base"], "main", ["MNTOR"]))
    assert counting.calls == ["git log", "authors_of"]
    counting.calls.clear()
    list(iter_changes(counting, s["bump"], "main", ["MNTOR"]))  # no merges in range
    assert counting.calls == ["git log"]
