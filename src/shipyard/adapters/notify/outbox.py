"""Deliver events to sinks without ever holding up or failing the caller.

``publish`` writes one file per (event, sink) and returns; a daemon thread per
sink delivers, retrying failures with exponential backoff and jitter (or the
receiver's ``Retry-After``), and gives up after ``max_attempts`` by moving the
file to ``dead/``. Files outlive the process: whatever is not delivered when
the CLI exits goes out on the next ``drain`` or ``publish``, from any process
using the same directory. Delivery is at least once: a process killed in the
middle of a send leaves a claim that the next one takes back and sends again.
"""

from __future__ import annotations

import logging
import random
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import shipyard.adapters.notify.spool as spool
from shipyard.private import private_dir

from .events import Event, NotifyError, Sink, matches

log = logging.getLogger("shipyard.notify")

SINK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class DrainResult:
    """What one :meth:`Outbox.drain` did.

    ``retried`` counts failed attempts scheduled again; ``pending`` is what is
    left in the outbox (retries due after the timeout, items held by other
    processes); ``complete`` is False when the timeout cut the drain short
    (a send still in flight, or more items due).
    """

    delivered: int
    retried: int
    dead: int
    pending: int
    complete: bool


@dataclass(frozen=True)
class PendingItem:
    """One delivery waiting in the outbox, for a status display."""

    key: str
    sink: str
    kind: str
    app: str
    summary: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    claimed_by: int | None


class Outbox:
    """A durable queue of events on their way to sinks.

    Example::

        outbox = Outbox(state_dir / "outbox", [LogSink(state_dir / "events.log")])
        outbox.publish(Event(kind="deployment.started", app="monitor", summary="…"))
        ...
        outbox.drain(timeout=3.0)   # before the CLI exits
        outbox.close()

    With ``autostart=False`` :meth:`publish` only queues, and delivery starts
    at the first :meth:`drain` or :meth:`start`. ``poll_interval`` is how often
    an idle delivery thread looks for work queued by other processes.
    """

    def __init__(
        self,
        directory: Path | str,
        sinks: Sequence[Sink],
        *,
        max_attempts: int = 8,
        base_backoff: float = 0.5,
        max_backoff: float = 60.0,
        autostart: bool = True,
        poll_interval: float = 30.0,
    ) -> None:
        names = [s.name for s in sinks]
        for name in names:
            if not SINK_NAME.match(name):
                raise ValueError(f"notify sink name {name!r}: lower-case letters, digits, - or _")
        if len(set(names)) != len(names):
            raise ValueError(f"notify sink names must be unique, got {names}")
        self.directory = Path(directory)
        self.sinks = tuple(sinks)
        self.max_attempts = max(1, max_attempts)
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.autostart = autostart
        self.poll_interval = poll_interval
        self._token = secrets.token_hex(4)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._counts: Counter[str] = Counter()
        self._workers = [_Worker(self, sink) for sink in self.sinks]
        self._started = False

    def publish(self, event: Event) -> None:
        """Queue ``event`` for every sink that wants it, and return at once. Never raises."""
        try:
            targets = [s for s in self.sinks if matches(event.kind, s.events)]
            if not targets:
                return
            private_dir(self.directory)
            data, now = event.to_dict(), time.time()
            for sink in targets:
                path = self.directory / spool.new_name(event.id, sink.name)
                spool.write(path, spool.Record(sink=sink.name, event=data, created_at=now))
            spool.sync_dir(self.directory)
        except Exception:
            log.exception(
                "notify: could not queue %s %s in %s",
                event.kind,
                event.id,
                self.directory,
            )
            return
        if self.autostart:
            self.start()
            self._wake()

    def start(self) -> None:
        """Start the delivery threads (one per sink) if they are not running."""
        with self._cond:
            if self._started or self._stop.is_set():
                return
            self._started = True
        for worker in self._workers:
            worker.thread.start()

    def drain(self, timeout: float) -> DrainResult:
        """Deliver what is due, and retries falling due, for at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        latest_due = time.time() + timeout
        with self._cond:
            marks = {w: w.started for w in self._workers}
            before = self._counts.copy()
        self.start()
        self._wake()
        with self._cond:
            while not (complete := self._idle_until(marks, latest_due)):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    break
                self._cond.wait(remaining)
            done = self._counts - before
        return DrainResult(
            delivered=done["delivered"],
            retried=done["retried"],
            dead=done["dead"],
            pending=len(self.pending()),
            complete=complete,
        )

    def pending(self) -> list[PendingItem]:
        """Deliveries not yet done, oldest first (also those for sinks not configured here)."""
        return [_item(path, record) for path, record in spool.items(self.directory)]

    def dead(self) -> list[PendingItem]:
        """Deliveries given up on, kept in ``dead/`` for inspection."""
        return [_item(path, record) for path, record in spool.items(self.directory / spool.DEAD)]

    def close(self, timeout: float = 2.0) -> None:
        """Stop the delivery threads; queued files stay for the next process."""
        self._stop.set()
        self._wake()
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            if worker.thread.is_alive():
                # A send in flight finishes on its own (bounded by the sink's timeout).
                worker.thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        """Seconds to wait after the ``attempts``-th failure."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_backoff)
        delay = min(self.max_backoff, self.base_backoff * 2.0 ** min(attempts - 1, 32))
        return delay * random.uniform(0.5, 1.0)

    def _wake(self) -> None:
        for worker in self._workers:
            worker.wake.set()

    def _idle_until(self, marks: dict[_Worker, int], latest_due: float) -> bool:
        return all(
            w.finished > marks[w] and (w.next_due is None or w.next_due > latest_due)
            for w in self._workers
        )

    def _count(self, what: str) -> None:
        with self._cond:
            self._counts[what] += 1


class _Worker:
    """Delivers one sink's files, one at a time, in publishing order."""

    def __init__(self, box: Outbox, sink: Sink) -> None:
        self.box = box
        self.sink = sink
        self.wake = threading.Event()
        self.started = 0  # passes begun
        self.finished = 0  # passes ended
        self.next_due: float | None = None  # earliest retry among unclaimed files
        self.thread = threading.Thread(
            target=self._run, name=f"shipyard-notify-{sink.name}", daemon=True
        )

    def _run(self) -> None:
        box = self.box
        while not box._stop.is_set():
            self.wake.clear()
            with box._cond:
                self.started += 1
            try:
                next_due = self._pass()
            except Exception:
                log.exception("notify: delivery to %s failed unexpectedly", self.sink.name)
                next_due = time.time() + box.poll_interval
            with box._cond:
                self.finished += 1
                self.next_due = next_due
                box._cond.notify_all()
            wait = box.poll_interval if next_due is None else next_due - time.time()
            self.wake.wait(min(max(wait, 0.0), box.poll_interval))

    def _pass(self) -> float | None:
        box, name = self.box, self.sink.name
        spool.reclaim(box.directory, name)
        next_due: float | None = None
        for path in spool.waiting(box.directory, name):
            if box._stop.is_set():
                break
            peek = spool.read(path)  # None: gone, or unreadable (claimed below and buried)
            if peek is not None and peek.next_attempt_at > time.time():
                next_due = _earliest(next_due, peek.next_attempt_at)
                continue
            claimed = spool.claim(path, box._token)
            if claimed is None:
                continue  # another process is on it
            record = spool.read(claimed)
            if record is not None and record.next_attempt_at > time.time():
                spool.put_back(claimed)  # another process rescheduled it since the peek
                next_due = _earliest(next_due, record.next_attempt_at)
                continue
            next_due = _earliest(next_due, self._deliver(claimed, record))
        return next_due

    def _deliver(self, claimed: Path, record: spool.Record | None) -> float | None:
        """Send one claimed file; the time of its next attempt if there will be one."""
        box = self.box
        if record is None:
            target = spool.bury(claimed, None)
            box._count("dead")
            log.warning("notify: moved unreadable file %s aside to %s", claimed.name, target)
            return None
        try:
            event = Event.from_dict(record.event)
        except (TypeError, ValueError) as exc:
            self._give_up(claimed, record, f"not an event: {exc}")
            return None
        try:
            self.sink.send(event)
        except NotifyError as exc:
            error = exc
        except Exception as exc:  # a sink's bug must not stop deliveries
            error = NotifyError(f"{type(exc).__name__}: {exc}", retryable=True)
        else:
            claimed.unlink()
            box._count("delivered")
            return None
        record = replace(record, attempts=record.attempts + 1, last_error=error.message)
        if not error.retryable or record.attempts >= box.max_attempts:
            self._give_up(claimed, record, error.message)
            return None
        due = time.time() + box.backoff(record.attempts, error.retry_after)
        spool.release(claimed, replace(record, next_attempt_at=due))
        box._count("retried")
        return due

    def _give_up(self, claimed: Path, record: spool.Record, reason: str) -> None:
        target = spool.bury(claimed, record)
        self.box._count("dead")
        log.warning(
            "notify: gave up sending %s %s to %s after %d attempt(s): %s (kept in %s)",
            record.event.get("kind", "event"),
            record.event.get("id", "?"),
            self.sink.name,
            record.attempts,
            reason,
            target,
        )


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


def _item(path: Path, record: spool.Record) -> PendingItem:
    event = record.event
    return PendingItem(
        key=spool.unclaim(path).name if spool.claimed_by(path) else path.name,
        sink=record.sink,
        kind=str(event.get("kind", "?")),
        app=str(event.get("app", "?")),
        summary=str(event.get("summary", "")),
        attempts=record.attempts,
        next_attempt_at=datetime.fromtimestamp(record.next_attempt_at, UTC),
        last_error=record.last_error,
        claimed_by=spool.claimed_by(path),
    )
