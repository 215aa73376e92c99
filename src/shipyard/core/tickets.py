"""Find ticket keys (``MNTOR-123``) in commit text.

Only keys with a configured prefix count: a generic ``[A-Z]+-\\d+`` pattern
would also pick up ``CVE-2024-1234``, ``KIP-500`` or ``RFC-7231``.

    >>> find_tickets("Fix login (MNTOR-12), see CVE-2024-1234 and MNTOR-7", ["MNTOR"])
    ('MNTOR-12', 'MNTOR-7')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

Finder = Callable[[str], tuple[str, ...]]


_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


@lru_cache(maxsize=32)
def ticket_finder(prefixes: tuple[str, ...]) -> Finder:
    """A compiled finder for one set of prefixes; cached, so call it freely."""
    if not prefixes:
        return lambda text: ()
    alternation = "|".join(re.escape(p) for p in sorted(set(prefixes), key=len, reverse=True))
    key = rf"(?:{alternation})-[0-9]+(?![A-Za-z0-9])"
    # A key is not glued to a letter or digit on either side: XMNTOR-1 and MNTOR-1a
    # are not keys, while "(MNTOR-1)", "MNTOR-1," and the branch "MNTOR-1-login" hold
    # one. The look-behind makes the regex ~4x slower (no literal-prefix search), so
    # it only runs when some prefix in the text is glued to what precedes it.
    strict = re.compile(rf"(?<![A-Za-z0-9]){key}").findall
    loose = re.compile(key).findall
    literals = tuple(f"{p}-" for p in prefixes)

    def glued(text: str) -> bool:
        for literal in literals:
            i = text.find(literal)
            while i != -1:
                if i and text[i - 1] in _ALNUM:
                    return True
                i = text.find(literal, i + 1)
        return False

    def find(text: str) -> tuple[str, ...]:
        # Most messages hold no key: a substring test is far cheaper than any regex.
        for literal in literals:
            if literal in text:
                break
        else:
            return ()
        keys = strict(text) if glued(text) else loose(text)
        return tuple(dict.fromkeys(keys)) if len(keys) > 1 else tuple(keys)

    return find


def find_tickets(text: str, prefixes: Sequence[str]) -> tuple[str, ...]:
    """Ticket keys in ``text`` with one of ``prefixes``, in order of appearance, each once."""
    return ticket_finder(tuple(prefixes))(text)


def ticket_sort_key(key: str) -> tuple[str, int]:
    """Sort ``MNTOR-9`` before ``MNTOR-10``."""
    prefix, _, number = key.rpartition("-")
    return prefix, int(number) if number.isdigit() else -1
