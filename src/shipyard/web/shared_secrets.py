"""The server's scrubber, kept the same on every worker of this host.

A secret a worker learns while it runs (a config change that stores or activates one,
``services.config_changes``) is added to that worker's scrubber at once; the
scrubber then touches the secrets stamp (``services.stamps``). Every worker reads
the stamp at the start of each request and, when it changed, reads every active
secret from the database again before it answers (``LearnSecrets``), so no worker
shows or logs a secret another one has learned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from shipyard.core.secrets import Scrubber
from shipyard.services.stamps import Stamp


class SharedScrubber(Scrubber):
    """A scrubber that tells the other workers (through ``stamp``) when it learns a value."""

    def __init__(self, stamp: Stamp, values: Iterable[str] = ()) -> None:
        self.stamp = stamp
        # The stamp the values were read under: read it before reading them.
        self.known = stamp.read()
        super().__init__(values)

    def add(self, values: Iterable[str]) -> None:
        before = self._forms
        super().add(values)
        if self._forms != before and getattr(self, "stamp", None) is not None:
            self.stamp.touch()

    def learn(self, values: Iterable[str]) -> None:
        """Add what another worker learned (read from the database): no stamp touched."""
        Scrubber.add(self, values)


class LearnSecrets:
    """ASGI middleware: before a request runs, catch up with the secrets other workers
    learned (``load`` reads every active secret: run only when the stamp changed)."""

    def __init__(
        self, app: ASGIApp, scrubber: SharedScrubber, load: Callable[[], Iterable[str]]
    ) -> None:
        self.app, self.scrubber, self.load = app, scrubber, load
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.scrubber.stamp.read() != self.scrubber.known:
            await self._catch_up()
        await self.app(scope, receive, send)

    async def _catch_up(self) -> None:
        import anyio.to_thread

        async with self._lock:  # one reload for the requests that noticed together
            now = self.scrubber.stamp.read()
            if now == self.scrubber.known:
                return
            values = await anyio.to_thread.run_sync(self.load)
            self.scrubber.learn(values)
            self.scrubber.known = now
