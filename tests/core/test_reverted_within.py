"""A change reverted within a range carries no tickets; a re-applied one carries them again."""

from __future__ import annotations

from shipyard.core.changes import Change, reverted_within


def _change(
    sha: str, title: str, tickets: tuple[str, ...] = (), reverts: str | None = None
) -> Change:
    return Change(
        sha, title, "Bo", "bo@x", None, "direct", tickets, reverts, reverts is not None, False, 0
    )


def test_a_revert_and_its_original_cancel_out() -> None:
    orig = _change("a" * 40, "Add alerts", ("MNTOR-1",))
    other = _change("b" * 40, "Add footer", ("MNTOR-2",))
    rev = _change("c" * 40, 'Revert "Add alerts"', ("MNTOR-1",), reverts="a" * 7)
    assert reverted_within([rev, other, orig]) == {"a" * 40, "c" * 40}


def test_a_reapply_cancels_the_revert_only() -> None:
    orig = _change("a" * 40, "Add alerts", ("MNTOR-1",))
    rev = _change("c" * 40, 'Revert "Add alerts"', ("MNTOR-1",), reverts="a" * 40)
    again = _change("d" * 40, 'Reapply "Add alerts"', ("MNTOR-1",), reverts="c" * 40)
    assert reverted_within([again, rev, orig]) == {"c" * 40, "d" * 40}


def test_a_revert_of_a_change_outside_the_range_cancels_nothing() -> None:
    rev = _change("c" * 40, 'Revert "Old"', ("MNTOR-9",), reverts="e" * 40)
    assert reverted_within([rev]) == set()
