from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard.core.tickets import find_tickets, ticket_finder, ticket_sort_key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fix login MNTOR-12", ("MNTOR-12",)),
        ("MNTOR-3 and MNTOR-1 then MNTOR-3 again", ("MNTOR-3", "MNTOR-1")),
        ("(MNTOR-7), [MNTOR-8]: MNTOR-9.", ("MNTOR-7", "MNTOR-8", "MNTOR-9")),
        ("org/MNTOR-12-login-form", ("MNTOR-12",)),
        ("MNTOR-12_fix", ("MNTOR-12",)),
        ("XMNTOR-1 is another project", ()),
        ("MNTOR-1 then XMNTOR-2 then MNTOR-3", ("MNTOR-1", "MNTOR-3")),
        ("XMNTOR-2 before MNTOR-3", ("MNTOR-3",)),
        ("MNTOR-1a is not a key", ()),
        ("MNTOR1 and MNTOR- and MNTOR-x", ()),
        ("mntor-5 lower case", ()),
        ("Patch CVE-2024-1234 per KIP-500 and RFC-7231", ()),
        ("", ()),
    ],
)
def test_find_tickets_with_one_prefix(text: str, expected: tuple[str, ...]) -> None:
    assert find_tickets(text, ["MNTOR"]) == expected


def test_several_prefixes_keep_order_of_appearance() -> None:
    text = "FXA-2 then MNTOR-1, CVE-2024-1 and FXA-2"
    assert find_tickets(text, ["MNTOR", "FXA"]) == ("FXA-2", "MNTOR-1")


def test_prefix_that_ends_another_prefix() -> None:
    assert find_tickets("XAB-1 AB-2", ["AB"]) == ("AB-2",)
    assert find_tickets("XAB-1 AB-2", ["AB", "XAB"]) == ("XAB-1", "AB-2")


def test_no_prefixes_finds_nothing() -> None:
    assert find_tickets("MNTOR-1", []) == ()


def test_prefix_with_regex_characters_is_literal() -> None:
    assert find_tickets("A.B-1 AXB-2", ["A.B"]) == ("A.B-1",)


def test_finder_is_cached_per_prefix_set() -> None:
    assert ticket_finder(("MNTOR",)) is ticket_finder(("MNTOR",))


def test_ticket_sort_key_is_numeric() -> None:
    keys = ["MNTOR-10", "FXA-3", "MNTOR-9", "MNTOR-100"]
    assert sorted(keys, key=ticket_sort_key) == ["FXA-3", "MNTOR-9", "MNTOR-10", "MNTOR-100"]


pieces = st.sampled_from(["MNTOR-", "MNTOR", "X", "x", "1", "23", " ", "_", "-", "(", "é"])


@given(st.lists(pieces, max_size=12).map("".join))
def test_fast_path_agrees_with_the_plain_rule(text: str) -> None:
    expected = tuple(
        dict.fromkeys(re.findall(r"(?<![A-Za-z0-9])MNTOR-[0-9]+(?![A-Za-z0-9])", text))
    )
    assert find_tickets(text, ["MNTOR"]) == expected


@given(
    st.lists(st.integers(min_value=0, max_value=10**6), max_size=5),
    st.text(alphabet=" ,.()[]/:;\n", max_size=3),
)
def test_every_separated_key_is_found(numbers: list[int], sep: str) -> None:
    sep = sep or " "
    text = sep.join(f"MNTOR-{n}" for n in numbers)
    assert find_tickets(text, ["MNTOR"]) == tuple(dict.fromkeys(f"MNTOR-{n}" for n in numbers))
