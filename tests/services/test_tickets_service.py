"""Which keys QA may act on: normalised, configured prefixes only, named on main."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitfixtures import BOB, GitBuilder
from shipyard.adapters.git import GitRepo
from shipyard.errors import ShipyardError
from shipyard.services.tickets import normalise_keys, on_main


def test_keys_are_normalised_and_counted_once() -> None:
    assert normalise_keys([" mntor-1", "MNTOR-1", "Fxa-2"], ["MNTOR", "FXA"]) == [
        "MNTOR-1",
        "FXA-2",
    ]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("CVE-2024-1", "'CVE-2024-1' is not a ticket key here (keys look like MNTOR-123;"),
        ("MNTOR-1 MNTOR-2", "'MNTOR-1 MNTOR-2' is not a ticket key here"),
        ("MNTOR-1/2", "'MNTOR-1/2' is not a ticket key here"),
        ("XMNTOR-1", "'XMNTOR-1' is not a ticket key here"),
        ("MNTOR-" + "9" * 100, "'MNTOR-" + "9" * 34 + "…' is not"),
        ("MNTOR-1234567890123456", "'MNTOR-1234567890123456' is not a ticket key here"),
    ],
)
def test_anything_but_one_key_with_a_configured_prefix_is_refused(key: str, message: str) -> None:
    with pytest.raises(ShipyardError) as err:
        normalise_keys(["MNTOR-5", key], ["MNTOR"])
    assert err.value.message.startswith(message), err.value.message


def test_without_prefixes_nothing_is_a_key() -> None:
    with pytest.raises(ShipyardError, match="no ticket prefixes are configured"):
        normalise_keys(["MNTOR-1"], [])
    with pytest.raises(ShipyardError, match="no ticket given"):
        normalise_keys([], ["MNTOR"])


def test_a_key_is_on_main_by_the_key_rules(tmp_path: Path) -> None:
    b = GitBuilder.init(tmp_path / "app")
    b.commit("Initial commit")
    wide = b.commit("Fix the cache MNTOR-123")
    slashed = b.commit("Tidy mntor-7/12 (#5)")
    b.branch("side")
    side = b.commit("Side work MNTOR-40", author=BOB)
    b.merge_pr(6, "side", "Side work")
    b.branch("unmerged")
    b.commit("Never merged MNTOR-50")
    b.checkout("main")
    git = GitRepo(b.path)
    assert on_main(git, "main", "MNTOR-123") == wide
    assert on_main(git, "main", "MNTOR-12") == slashed  # "MNTOR-123" holds "12" but is not it
    assert on_main(git, "main", "MNTOR-7") == slashed
    assert on_main(git, "main", "MNTOR-23") is None
    assert on_main(git, "main", "MNTOR-40") == side  # a commit of a merged branch
    assert on_main(git, "main", "MNTOR-50") is None  # only on a branch never merged
