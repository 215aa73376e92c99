from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard.core.tickets import (
    KeySources,
    change_keys,
    find_tickets,
    ticket_finder,
    ticket_sort_key,
)


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
        ("mntor-5 lower case", ("MNTOR-5",)),
        ("Mntor-5 and mNtOr-6", ("MNTOR-5", "MNTOR-6")),
        ("xmntor-5 glued in lower case", ()),
        ("MNTOR-1/2 two keys", ("MNTOR-1", "MNTOR-2")),
        ("mntor-14837/14842/9: three", ("MNTOR-14837", "MNTOR-14842", "MNTOR-9")),
        ("MNTOR-1/2a: the second is glued", ("MNTOR-1",)),
        ("MNTOR-1234567890123456: 16 digits", ()),
        (
            "MNTOR-123456789012345 and MNTOR-1/1234567890123456",
            ("MNTOR-123456789012345", "MNTOR-1"),
        ),
        ("MNTOR-1/ and MNTOR-2/x", ("MNTOR-1", "MNTOR-2")),
        ("MNTOR-1/MNTOR-2", ("MNTOR-1", "MNTOR-2")),
        ("MNTOR-3/1 then MNTOR-1", ("MNTOR-3", "MNTOR-1")),
        ("é mntor-3 in a non-ASCII text", ("MNTOR-3",)),
        ("éxmntor-3 glued in a non-ASCII text", ()),
        ("Kelvin \u212aMNTOR-3 and MNTOR-4/5 é", ("MNTOR-3", "MNTOR-4", "MNTOR-5")),
        ("\u0131mntor-3: a dotless i is not ASCII, so not glued", ("MNTOR-3",)),
        ("Patch CVE-2024-1234 per KIP-500 and RFC-7231", ()),
        ("", ()),
    ],
)
def test_find_tickets_with_one_prefix(text: str, expected: tuple[str, ...]) -> None:
    assert find_tickets(text, ["MNTOR"]) == expected


def test_kafka_keys_from_the_issue() -> None:
    assert find_tickets("Kafka-14748: fix the fetcher", ["KAFKA"]) == ("KAFKA-14748",)
    assert find_tickets("KAFKA-14837/14842: two at once", ["KAFKA"]) == (
        "KAFKA-14837",
        "KAFKA-14842",
    )


def test_lower_case_prefix_in_the_config_is_the_same_prefix() -> None:
    assert find_tickets("Fix MNTOR-1 and mntor-2", ["mntor"]) == ("MNTOR-1", "MNTOR-2")


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


PIECES = ["MNTOR-", "mntor-", "Mntor-", "MNTOR", "X", "x", "1", "23", "12345678", " ", "_"]
pieces = st.sampled_from([*PIECES, "-", "/", "(", "é"])
PLAIN = re.compile(
    r"(?<![A-Za-z0-9])MNTOR-[0-9]{1,15}(?:/[0-9]{1,15})*(?![A-Za-z0-9])", re.I | re.A
)


def plain_rule(text: str) -> tuple[str, ...]:
    """The key rules written the slow, obvious way."""
    keys = []
    for match in PLAIN.findall(text):
        first, *more = match.upper().split("/")
        keys += [first, *(f"MNTOR-{n}" for n in more)]
    return tuple(dict.fromkeys(keys))


@given(st.lists(pieces, max_size=12).map("".join))
def test_fast_path_agrees_with_the_plain_rule(text: str) -> None:
    assert find_tickets(text, ["MNTOR"]) == plain_rule(text)


@given(
    st.lists(st.integers(min_value=0, max_value=10**6), max_size=5),
    st.text(alphabet=" ,.()[]/:;\n", max_size=3),
)
def test_every_separated_key_is_found(numbers: list[int], sep: str) -> None:
    sep = sep or " "
    text = sep.join(f"MNTOR-{n}" for n in numbers)
    assert find_tickets(text, ["MNTOR"]) == tuple(dict.fromkeys(f"MNTOR-{n}" for n in numbers))


FIND = ticket_finder(("MNTOR",))


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (KeySources(), ("MNTOR-1", "MNTOR-2")),
        (KeySources(body="always"), ("MNTOR-1", "MNTOR-2", "MNTOR-3")),
        (KeySources(body="never"), ("MNTOR-1", "MNTOR-2")),
        (KeySources(title=False), ("MNTOR-2",)),
        (KeySources(branch=False), ("MNTOR-1",)),
        (KeySources(title=False, branch=False, body="always"), ("MNTOR-3",)),
    ],
)
def test_key_sources_with_a_key_in_the_title(
    sources: KeySources, expected: tuple[str, ...]
) -> None:
    keys = change_keys(FIND, "Fix MNTOR-1", "mntor-2-login", "see MNTOR-3 from 2019", sources)
    assert keys == expected


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (KeySources(), ("MNTOR-2", "MNTOR-3")),
        (KeySources(body="never"), ("MNTOR-2",)),
        # "fallback" looks at the title even when the title is not a source.
        (KeySources(title=False), ("MNTOR-2", "MNTOR-3")),
    ],
)
def test_the_body_counts_by_default_when_the_title_names_no_key(
    sources: KeySources, expected: tuple[str, ...]
) -> None:
    keys = change_keys(FIND, "Fix the login", "mntor-2-login", "MNTOR-3", sources)
    assert keys == expected


def test_keys_named_twice_count_once() -> None:
    keys = change_keys(FIND, "MNTOR-1", "MNTOR-1-x", "MNTOR-1", KeySources(body="always"))
    assert keys == ("MNTOR-1",)
