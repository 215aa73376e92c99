"""PR metadata kept between runs in one private JSON file, so the same notes cost no
request the second time.

    cache = PrCache(state_dir / "forge-github.json", "acme/web")
    cache.put(12, {"title": ...}, etag='"abc"')
    cache.fresh([12, 13])      # {12: {...}}: entries younger than max_age
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from shipyard.private import open_private, private_dir

MAX_AGE = 24 * 3600.0  # after a day an entry is revalidated with If-None-Match


class PrCache:
    """PR fields by number for one repository, each with its ETag and when it was read."""

    def __init__(
        self,
        path: Path,
        repository: str,
        *,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.repository = repository
        self.max_age = max_age
        self.clock = clock
        self._all = self._read()
        self._entries: dict[str, Any] = self._all.setdefault(repository, {})

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # no cache yet, or a damaged one: start again
        return data if isinstance(data, dict) else {}

    def fresh(self, numbers: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The entries of ``numbers`` younger than ``max_age``."""
        now = self.clock()
        out = {}
        for n in numbers:
            entry = self._entries.get(str(n))
            if entry and now - entry.get("at", 0) < self.max_age:
                out[n] = entry["pr"]
        return out

    def stale(self, number: int) -> tuple[dict[str, Any], str] | None:
        """A kept entry and its ETag, to revalidate; None when there is none."""
        entry = self._entries.get(str(number))
        if entry and entry.get("etag"):
            return entry["pr"], entry["etag"]
        return None

    def put(self, number: int, pr: dict[str, Any], etag: str | None = None) -> None:
        self._entries[str(number)] = {"pr": pr, "etag": etag, "at": self.clock()}

    def save(self) -> None:
        """Write the file (0600) atomically; a cache that cannot be written is skipped."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with contextlib.suppress(OSError):
            private_dir(self.path.parent)
            fd = open_private(tmp, os.O_WRONLY | os.O_TRUNC)
            with os.fdopen(fd, "w") as f:
                json.dump(self._all, f)
            os.replace(tmp, self.path)
