"""The forge's PR metadata kept in the database (``forge_pull_requests``), one app and
repository at a time: a ``PrCache`` (``adapters/forge/pr_cache.py``) for the forge.

Reads fetch every row asked for in one query; what ``put`` collects is written by
``save`` in one transaction. The cache never fails the notes: a database that cannot
be read is a cache miss, one that cannot be written is skipped (and logged).

    cache = DbPrCache(store, app_id, "acme/web")
    cache.fresh([12, 13])      # {12: {...}}: rows younger than max_age
    cache.put(13, {...}, etag='"abc"'); cache.save()
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shipyard.errors import ShipyardError
from shipyard.store.db import Store
from shipyard.store.models import ForgePullRequest

log = logging.getLogger(__name__)
MAX_AGE = 24 * 3600.0  # after a day an entry is revalidated with If-None-Match
CHUNK = 500  # numbers per query (SQLite allows 999 parameters in old builds)

Fields = dict[str, Any]
Entry = tuple[Fields | None, str | None, float]  # fields (None: no PR), ETag, read at


class DbPrCache:
    """PR fields by number for one app's repository, with ETags, in the database."""

    def __init__(
        self,
        store: Store,
        app_id: int,
        repository: str,
        *,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.app_id, self.repository = store, app_id, repository
        self.max_age, self.clock = max_age, clock
        self._known: dict[int, Entry] = {}
        self._pending: dict[int, Entry] = {}

    def fresh(self, numbers: Iterable[int]) -> dict[int, Fields | None]:
        wanted = sorted(set(numbers))
        self._load([n for n in wanted if n not in self._known])
        now = self.clock()
        return {
            n: entry[0]
            for n in wanted
            if (entry := self._known.get(n)) is not None and now - entry[2] < self.max_age
        }

    def stale(self, number: int) -> tuple[Fields, str] | None:
        if number not in self._known:
            self._load([number])
        entry = self._known.get(number)
        if entry is not None and entry[0] is not None and entry[1]:
            return entry[0], entry[1]
        return None

    def put(self, number: int, pr: Fields | None, etag: str | None = None) -> None:
        self._known[number] = self._pending[number] = (pr, etag, self.clock())

    def save(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        try:
            self.store.retrying(lambda s: self._write(s, pending))
        except (SQLAlchemyError, ShipyardError) as exc:
            log.warning("the PR cache was not written: %s", " ".join(str(exc).split())[:200])

    def _load(self, numbers: list[int]) -> None:
        try:
            with self.store.read() as s:
                for i in range(0, len(numbers), CHUNK):
                    for row in s.execute(self._rows(numbers[i : i + CHUNK])).scalars():
                        self._known[row.number] = _entry(row)
        except (SQLAlchemyError, ShipyardError, ValueError) as exc:
            log.warning("the PR cache was not read: %s", " ".join(str(exc).split())[:200])

    def _rows(self, numbers: list[int]) -> Any:
        return select(ForgePullRequest).where(
            ForgePullRequest.app_id == self.app_id,
            ForgePullRequest.repository == self.repository,
            ForgePullRequest.number.in_(numbers),
        )

    def _write(self, session: Session, pending: dict[int, Entry]) -> None:
        numbers = sorted(pending)
        rows: dict[int, ForgePullRequest] = {}
        for i in range(0, len(numbers), CHUNK):
            for row in session.execute(self._rows(numbers[i : i + CHUNK])).scalars():
                rows[row.number] = row
        for number, (pr, etag, at) in pending.items():
            row = rows.get(number)
            if row is None:
                row = ForgePullRequest(
                    app_id=self.app_id, repository=self.repository, number=number
                )
                session.add(row)
            row.title = None if pr is None else str(pr["title"])
            row.author = None if pr is None else str(pr["author"])[:100]
            row.labels = json.dumps([] if pr is None else list(pr["labels"]))
            row.url = None if pr is None else str(pr["url"])
            row.etag = etag[:200] if etag else None
            row.fetched_at = datetime.fromtimestamp(at, UTC)


def _entry(row: ForgePullRequest) -> Entry:
    at = row.fetched_at if row.fetched_at.tzinfo else row.fetched_at.replace(tzinfo=UTC)
    if row.title is None or row.url is None:
        return None, None, at.timestamp()
    fields = {
        "number": row.number,
        "title": row.title,
        "author": row.author or "ghost",
        "labels": [str(label) for label in json.loads(row.labels or "[]")],
        "url": row.url,
    }
    return fields, row.etag, at.timestamp()
