"""Find ticket keys (``MNTOR-123``) in commit text.

Only keys with a configured prefix count: a generic ``[A-Z]+-\\d+`` pattern
would also pick up ``CVE-2024-1234``, ``KIP-500`` or ``RFC-7231``. Keys match
in any case and come out upper-case, and ``MNTOR-1/2`` names two tickets.

    >>> find_tickets("Fix login (Mntor-12), see CVE-2024-1234 and MNTOR-7/8", ["MNTOR"])
    ('MNTOR-12', 'MNTOR-7', 'MNTOR-8')

Where a change's keys are read from (its title, the merged branch's name, its
body) is a :class:`KeySources`; :func:`change_keys` applies it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Literal, NamedTuple

Finder = Callable[[str], tuple[str, ...]]
BodyRule = Literal["fallback", "always", "never"]

NOT_SEEN = "not seen by QA yet"
"""The label of a key that no tracker has seen: never verified, so unverified."""


@lru_cache(maxsize=32)
def ticket_finder(prefixes: tuple[str, ...]) -> Finder:
    """A compiled finder for one set of prefixes; cached, so call it freely."""
    prefixes = tuple(dict.fromkeys(p.upper() for p in prefixes))
    if not prefixes:
        return lambda text: ()
    alternation = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
    # At most 15 digits: with a prefix of at most 40 characters (config/) a key
    # fits the database's 64.
    key = rf"(?:{alternation})-[0-9]{{1,15}}(?:/[0-9]{{1,15}})*(?![A-Za-z0-9])"
    # A key is not glued to a letter or digit on either side: XMNTOR-1 and MNTOR-1a
    # are not keys, while "(MNTOR-1)", "MNTOR-1," and the branch "MNTOR-1-login" hold
    # one. The look-behind makes the regex ~4x slower (no literal-prefix search), so
    # it only runs when some prefix in the text is glued to what precedes it.
    # ASCII text is searched upper-cased, case-sensitively (the fast literal search
    # again); other text case-insensitively in ASCII only, so that no Unicode case
    # folding (the Kelvin sign, a dotless i) makes a key.
    ascii_strict = re.compile(rf"(?<![A-Za-z0-9]){key}").findall
    ascii_loose = re.compile(key).findall
    other = re.IGNORECASE | re.ASCII
    other_strict = re.compile(rf"(?<![A-Za-z0-9]){key}", other).findall
    other_loose = re.compile(key, other).findall
    literals = _literals(prefixes)
    # Some prefix in the upper-cased text right after an ASCII letter or digit.
    glued = re.compile(rf"[A-Za-z0-9](?:{alternation})-").search

    def find(text: str) -> tuple[str, ...]:
        # Most messages hold no key: a substring test is far cheaper than any regex.
        upper = text.upper()
        for literal in literals:
            if literal in upper:
                break
        else:
            return ()
        if text.isascii():
            keys = ascii_strict(upper) if glued(upper) else ascii_loose(upper)
        else:
            keys = [k.upper() for k in (other_strict if glued(upper) else other_loose)(text)]
        if len(keys) == 1 and "/" not in keys[0]:
            return (keys[0],)
        return tuple(dict.fromkeys(_split(keys)))

    return find


def _literals(prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """What every key of ``prefixes`` holds once upper-cased: ``MNTOR-``."""
    return tuple(dict.fromkeys(f"{p.upper()}-" for p in prefixes))


@lru_cache(maxsize=32)
def ticket_hint(prefixes: tuple[str, ...]) -> Callable[[str], bool]:
    """A quick test of a whole message: False means :func:`ticket_finder`'s finder finds
    no key in it, nor in any part of it (its title, branch or body)."""
    # The finder's own first test, on the whole text: upper-casing maps each character
    # on its own, so a part's upper-cased text lies within the whole's.
    literals = _literals(prefixes)
    if len(literals) == 1:
        (only,) = literals
        return lambda text: only in text.upper()

    def hint(text: str) -> bool:
        upper = text.upper()
        return any(literal in upper for literal in literals)

    return hint


def _split(keys: list[str]) -> list[str]:
    """``MNTOR-1/2`` -> ``MNTOR-1``, ``MNTOR-2``; other keys as they are."""
    out = []
    for k in keys:
        if "/" in k:
            first, *more = k.split("/")
            prefix = first.rpartition("-")[0]
            out.append(first)
            out += [f"{prefix}-{n}" for n in more]
        else:
            out.append(k)
    return out


def find_tickets(text: str, prefixes: Sequence[str]) -> tuple[str, ...]:
    """Ticket keys in ``text`` with one of ``prefixes``, in order of appearance, each once."""
    return ticket_finder(tuple(prefixes))(text)


class KeySources(NamedTuple):
    """Where a change's ticket keys are read from.

    ``body``: "fallback" reads the body only when the title names no key (bodies
    mention old keys in passing), "always" reads it too, "never" ignores it.
    """

    title: bool = True
    branch: bool = True
    body: BodyRule = "fallback"


DEFAULT_SOURCES = KeySources()


def change_keys(
    find: Finder, title: str, branch: str, body: str, sources: KeySources
) -> tuple[str, ...]:
    """The keys of one change: those of its title, merged branch and body, as ``sources`` says."""
    fallback = sources.body == "fallback"
    in_title = find(title) if sources.title or fallback else ()
    keys = in_title if sources.title else ()
    if sources.branch and branch:
        keys += find(branch)
    if body and (sources.body == "always" or (fallback and not in_title)):
        keys += find(body)
    return tuple(dict.fromkeys(keys)) if len(keys) > 1 else keys


def ticket_sort_key(key: str) -> tuple[str, int]:
    """Sort ``MNTOR-9`` before ``MNTOR-10``."""
    prefix, _, number = key.rpartition("-")
    return prefix, int(number) if number.isdigit() else -1
