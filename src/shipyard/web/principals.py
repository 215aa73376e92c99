"""Who a token or a session is, remembered for a few seconds.

Every API request and page names its user by a token; looking it up costs a
transaction. The answer is kept for ``TTL`` seconds, so a user disabled or a
token revoked by a server on another host is seen within that time. On this
host it is seen at once, by every worker of every server sharing the state dir:
what ends access touches the users stamp (``services.stamps``) after writing the
database, and an answer remembered under another stamp is not used. Unknown
tokens are never remembered: each try reaches the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from shipyard.services.stamps import Stamp
from shipyard.web.deps import Principal

TTL = 5.0
SIZE = 10_000


class Principals:
    def __init__(self, ttl: float = TTL, size: int = SIZE, stamp: Stamp | None = None) -> None:
        self.ttl = ttl
        self.size = size
        self.stamp = stamp
        self._known: dict[Hashable, tuple[Principal, float, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], Principal | None]) -> Principal | None:
        """The principal of ``key``: remembered, else ``load()`` (None: unknown)."""
        now = time.monotonic()
        # Read before loading: an answer loaded while access changed is kept under the
        # old stamp, so the next request does not use it.
        seen = self.stamp.read() if self.stamp is not None else b""
        hit = self._known.get(key)
        if hit is not None and hit[1] > now and hit[2] == seen:
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
            self._known[key] = (found, now + self.ttl, seen)
        return found

    def forget(self) -> None:
        """Access changed (the database is written): forget here, and on every worker."""
        with self._lock:
            self._known.clear()
        if self.stamp is not None:
            self.stamp.touch()
