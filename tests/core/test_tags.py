from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard.core.tags import (
    RELEASE_TAG_RE,
    date_tag,
    format_env_tag,
    is_release_tag,
    latest_release_tag,
    next_release_tag,
    release_sort_key,
)

DAY = date(2024, 9, 1)


def test_date_tag() -> None:
    assert date_tag(DAY) == "2024.09.01"
    assert date_tag(date(987, 12, 31)) == "0987.12.31"


def test_next_release_tag() -> None:
    assert next_release_tag(DAY, []) == "2024.09.01"
    assert next_release_tag(DAY, ["2024.08.31", "2024.09.02"]) == "2024.09.01"
    assert next_release_tag(DAY, ["2024.09.01"]) == "2024.09.01.1"
    assert next_release_tag(DAY, ["2024.09.01", "2024.09.01.1"]) == "2024.09.01.2"
    # The highest suffix counts, whatever the order or gaps.
    assert next_release_tag(DAY, ["2024.09.01.9", "2024.09.01", "2024.09.01.2"]) == "2024.09.01.10"
    assert next_release_tag(DAY, ["2024.09.01.3"]) == "2024.09.01.4"
    # Tags that only look similar do not count.
    assert next_release_tag(DAY, ["2024.09.01.x", "2024.09.01.01", "prod-2024.09.01"]) == (
        "2024.09.01"
    )


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        ("2024.09.01", True),
        ("2024.09.01.1", True),
        ("2024.09.01.12", True),
        ("2024.09.01.0", False),
        ("2024.09.01.01", False),
        ("2024.9.1", False),
        ("2024.02.30", False),
        ("2024.13.01", False),
        ("v2024.09.01", False),
        ("2024.09.01-rc1", False),
        ("prod-2024.09.01", False),
        ("2024.09.01\n", False),
    ],
)
def test_is_release_tag(tag: str, ok: bool) -> None:
    assert is_release_tag(tag) is ok
    assert (RELEASE_TAG_RE.fullmatch(tag) is not None) >= ok


def test_release_sort_key_order() -> None:
    tags = ["2024.09.02", "2024.09.01.10", "2024.09.01", "2024.09.01.2", "2024.09.01.1"]
    assert sorted(tags, key=release_sort_key) == [
        "2024.09.01", "2024.09.01.1", "2024.09.01.2", "2024.09.01.10", "2024.09.02",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="not a release tag"):
        release_sort_key("v1.2.3")


def test_latest_release_tag() -> None:
    assert latest_release_tag([]) is None
    assert latest_release_tag(["v1", "prod-2024.09.03"]) is None
    tags = ["2024.09.01.10", "prod-2025.01.01", "2024.09.01.9", "v9.9.9"]
    assert latest_release_tag(tags) == "2024.09.01.10"


releases = st.tuples(
    st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)),
    st.integers(min_value=0, max_value=10_000),
)


def _tag(release: tuple[date, int]) -> str:
    d, n = release
    return date_tag(d) if n == 0 else f"{date_tag(d)}.{n}"


@given(releases, releases)
def test_sort_order_is_date_then_suffix(a: tuple[date, int], b: tuple[date, int]) -> None:
    ta, tb = _tag(a), _tag(b)
    assert is_release_tag(ta) and is_release_tag(tb)
    assert (release_sort_key(ta) < release_sort_key(tb)) == (a < b)
    assert (release_sort_key(ta) == release_sort_key(tb)) == (ta == tb)


@given(st.lists(releases, min_size=1, max_size=20))
def test_latest_is_max_and_next_is_after_all(items: list[tuple[date, int]]) -> None:
    tags = [_tag(r) for r in items]
    assert latest_release_tag(tags) == _tag(max(items))
    d = max(items)[0]
    new = next_release_tag(d, tags)
    assert new not in tags
    assert all(release_sort_key(new) > release_sort_key(t) for t in tags)


def test_format_env_tag() -> None:
    assert format_env_tag("prod-{ref}", "2024.09.01") == "prod-2024.09.01"
    assert format_env_tag("{ref}", "2024.09.01.1") == "2024.09.01.1"
    assert format_env_tag("stage", "x") == "stage"
    assert format_env_tag("{{ref}}-{ref}", "a") == "{ref}-a"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("prod-{sha}", r"unknown placeholder \{sha\}"),
        ("prod-{}", r"unknown placeholder \{\}"),
        ("prod-{0}", r"unknown placeholder \{0\}"),
        ("prod-{ref!r}", "without a format"),
        ("prod-{ref:>10}", "without a format"),
        ("prod-{ref", "bad tag template"),
        ("prod-}", "bad tag template"),
    ],
)
def test_format_env_tag_rejects(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        format_env_tag(template, "2024.09.01")
