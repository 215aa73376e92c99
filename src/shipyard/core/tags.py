"""Date release tags (``2024.09.01``, ``2024.09.01.1``) and environment tags.

Release tags name the day a release was cut; a second cut that day gets
``.1``, then ``.2``. They sort by date, then numerically by suffix, which semver
based tools get wrong (``2024.09.01.10`` sorts after ``2024.09.01.9`` here).

    >>> next_release_tag(date(2024, 9, 1), ["2024.09.01"])
    '2024.09.01.1'
    >>> sorted(["2024.09.02", "2024.09.01.1", "2024.09.01"], key=release_sort_key)
    ['2024.09.01', '2024.09.01.1', '2024.09.02']
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from datetime import date

RELEASE_TAG_RE = re.compile(r"(\d{4})\.(\d{2})\.(\d{2})(?:\.([1-9]\d*))?")
"""``YYYY.MM.DD`` with an optional ``.N`` (N >= 1, no leading zero); use ``fullmatch``."""

ReleaseKey = tuple[int, int, int, int]

ENV_TAG_FIELDS = frozenset({"ref"})
"""Placeholders an environment tag template may use."""


def date_tag(d: date) -> str:
    """The first release tag of day ``d``: ``2024.09.01``."""
    return f"{d.year:04d}.{d.month:02d}.{d.day:02d}"


def release_sort_key(tag: str) -> ReleaseKey:
    """``(year, month, day, suffix)``; ValueError if ``tag`` is not a release tag."""
    m = RELEASE_TAG_RE.fullmatch(tag)
    if m is None:
        raise ValueError(f"not a release tag: {tag!r}")
    year, month, day, suffix = m.groups()
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"not a release tag: {tag!r} (no such date)") from None
    return int(year), int(month), int(day), int(suffix or 0)


def is_release_tag(tag: str) -> bool:
    """Whether ``tag`` is ``YYYY.MM.DD`` or ``YYYY.MM.DD.N`` on a real date."""
    try:
        release_sort_key(tag)
    except ValueError:
        return False
    return True


def latest_release_tag(tags: Iterable[str]) -> str | None:
    """The newest release tag among ``tags`` (others are ignored), or None."""
    releases = [t for t in tags if is_release_tag(t)]
    return max(releases, key=release_sort_key, default=None)


def next_release_tag(d: date, existing: Iterable[str]) -> str:
    """The tag for the next release cut on day ``d``, given the tags that exist."""
    base = date_tag(d)
    prefix = base + "."
    highest = -1
    for tag in existing:
        if tag == base:
            highest = max(highest, 0)
        elif tag.startswith(prefix) and is_release_tag(tag):
            highest = max(highest, release_sort_key(tag)[3])
    return base if highest < 0 else f"{base}.{highest + 1}"


def next_hotfix_tag(d: date, existing: Iterable[str]) -> str:
    """The tag of a hotfix cut on day ``d``: always with a suffix (``2024.09.01.1``, ``.2``…),
    so it never takes the name the daily pre-release would.

    >>> next_hotfix_tag(date(2024, 9, 1), [])
    '2024.09.01.1'
    >>> next_hotfix_tag(date(2024, 9, 1), ["2024.09.01", "2024.09.01.1"])
    '2024.09.01.2'
    """
    tag = next_release_tag(d, existing)
    return f"{tag}.1" if tag == date_tag(d) else tag


# What an image registry accepts as a tag (the OCI distribution spec's rule).
ARTIFACT_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def env_tag_ref(ref: str, commit: str, *, fixed: bool) -> str:
    """What ``{ref}`` stands for in an environment's tag: the ref as written when it is
    a git tag or a SHA (``fixed``) that a tag can carry, else the commit's short SHA. A
    branch (``main``) moves and ``HEAD~1`` cannot be a tag: ``dev-abc123d`` says what ran.

    >>> env_tag_ref("2024.09.01", "abc123def", fixed=True)
    '2024.09.01'
    >>> env_tag_ref("HEAD~1", "abc123def", fixed=False)
    'abc123d'
    """
    if fixed and ARTIFACT_TAG_RE.match(ref):
        return ref
    return commit[:7]


def format_env_tag(template: str, ref: str) -> str:
    """Fill an environment tag template such as ``prod-{ref}``.

    ValueError names an unknown placeholder or a malformed template.

    >>> format_env_tag("prod-{ref}", "2024.09.01")
    'prod-2024.09.01'
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"bad tag template {template!r}: {exc}") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in ENV_TAG_FIELDS:
            allowed = ", ".join(f"{{{f}}}" for f in sorted(ENV_TAG_FIELDS))
            raise ValueError(
                f"unknown placeholder {{{field}}} in tag template {template!r}; use {allowed}"
            )
        if spec or conversion:
            raise ValueError(f"tag template {template!r}: write {{{field}}} without a format")
    return template.format(ref=ref)


def shown_ref(ref: str, commit: str) -> str:
    """How output names what was deployed: ``2024.09.01 (abc1234)``, or the ref alone when
    it is (a prefix of) the commit's SHA itself."""
    return ref if commit.startswith(ref) else f"{ref} ({commit[:7]})"
