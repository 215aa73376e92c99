"""Who a token or a session is, remembered for a few seconds.

Every API request and page names its user by a token; looking it up costs a
transaction. The answer is kept for ``TTL`` seconds, so a token revoked or a user
disabled or given another role is seen within that time. Unknown tokens are never
remembered: each try reaches the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from shipyard.web.deps import Principal

TTL = 5.0
SIZE = 10_000


class Principals:
    def __init__(self, ttl: float = TTL, size: int = SIZE) -> None:
        self.ttl = ttl
        self.size = size
        self._known: dict[Hashable, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], Principal | None]) -> Principal | None:
        """The principal of ``key``: remembered, else ``load()`` (None: unknown)."""
        now = time.monotonic()
        hit = self._known.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        found = load()
        with self._lock:
            if found is None:
                self._known.pop(key, None)
                return None
            if len(self._known) >= self.size:
                self._known = {k: v for k, v in self._known.items() if v[1] > now}
                if len(self._known) >= self.size:
                    self._known.clear()
            self._known[key] = (found, now + self.ttl)
        return found

    def forget(self) -> None:
        with self._lock:
            self._known.clear()
