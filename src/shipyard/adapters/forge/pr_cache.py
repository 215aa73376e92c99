"""Where the GitHub forge keeps the PR metadata it read, so the same notes cost no
request the second time.

The forge takes any ``PrCache``; Shipyard passes the database-backed one
(``store/forge_cache.py``, table ``forge_pull_requests``). ``MemoryPrCache`` keeps
entries for the life of the object (a forge built without a database, tests).

    cache.put(12, {"number": 12, "title": ...}, etag='"abc"')
    cache.put(13, None)        # the forge has no PR 13 (an issue number): not asked again
    cache.fresh([12, 13, 14])  # {12: {...}, 13: None}: entries younger than max_age
    cache.save()               # what was put since the last save, kept
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

MAX_AGE = 24 * 3600.0  # after a day an entry is revalidated with If-None-Match

PrFields = dict[str, Any]
"""``number``, ``title``, ``author`` (login), ``labels`` (list of names), ``url``."""


class PrCache(Protocol):
    """PR fields by number for one repository, each with its ETag and when it was read."""

    def fresh(self, numbers: Iterable[int]) -> dict[int, PrFields | None]:
        """The entries of ``numbers`` younger than the cache's maximum age; None for a
        number the forge said it has no PR for."""
        ...

    def stale(self, number: int) -> tuple[PrFields, str] | None:
        """A kept entry and its ETag, to revalidate; None when there is none."""
        ...

    def put(self, number: int, pr: PrFields | None, etag: str | None = None) -> None:
        """Remember ``pr`` (None: no such PR) as read now."""
        ...

    def save(self) -> None:
        """Keep what was put; a cache that cannot be written is skipped, never an error."""
        ...


class MemoryPrCache:
    """A ``PrCache`` in this object only."""

    def __init__(self, *, max_age: float = MAX_AGE, clock: Callable[[], float] = time.time) -> None:
        self.max_age = max_age
        self.clock = clock
        self._entries: dict[int, tuple[PrFields | None, str | None, float]] = {}

    def fresh(self, numbers: Iterable[int]) -> dict[int, PrFields | None]:
        now = self.clock()
        out: dict[int, PrFields | None] = {}
        for n in numbers:
            entry = self._entries.get(n)
            if entry is not None and now - entry[2] < self.max_age:
                out[n] = entry[0]
        return out

    def stale(self, number: int) -> tuple[PrFields, str] | None:
        entry = self._entries.get(number)
        if entry is not None and entry[0] is not None and entry[1]:
            return entry[0], entry[1]
        return None

    def put(self, number: int, pr: PrFields | None, etag: str | None = None) -> None:
        self._entries[number] = (pr, etag, self.clock())

    def save(self) -> None:
        return None
