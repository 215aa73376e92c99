"""Scheduled jobs inside ``serve``: the daily pre-release and polling for commits.

Several servers may share one database; the database decides who runs what.

- **Once per slot.** A cron job's run for one slot (``2024-09-02T00:00+00:00``)
  starts by inserting a ``scheduled_runs`` row; the table is unique on
  (app, job, slot), so a second server's insert fails and it skips the slot.
- **Catch-up, once.** Each tick looks at the latest slot at or before now. It
  runs if it is newer than the job's last recorded slot and no older than
  ``catch_up_window``: after downtime spanning several slots, one run happens,
  for the newest; a slot missed by more than the window is not run late (this
  also keeps a fresh install from cutting a release for a long-gone slot).
- **One poller.** Polling holds a lease (a ``leases`` row, ``services.leases``) so that only one
  server polls; the holder renews it while a poll runs, and another server
  takes over when the holder releases it or stops renewing it for
  ``lease_ttl`` seconds. A poll that found nothing new is not recorded, nor
  one that fails the same way as the poll before it; the others are.

Every recorded run has an outcome (``running`` while it runs, then
``succeeded``, ``skipped`` or ``failed``) and an audit record
``schedule.<job>``. A run whose server stopped mid-run is marked failed
("abandoned") and its slot is not run again. The clock is injected:
``tick(now)`` never reads it.

``holder`` names the server; as ``host:pid:process-start`` (the form of a
deployment's owner) a run abandoned on this host is noticed at once, otherwise
after ``run_timeout``.

Example::

    scheduler = Scheduler(ctx, ScheduleSettings(timezone="Europe/Berlin"), holder=owner)
    scheduler.run_forever(stop_event)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shipyard.core.cron import Cron, parse
from shipyard.errors import ShipyardError
from shipyard.services.context import Context
from shipyard.services.deploy.recovery import recover_dead
from shipyard.services.leases import KeepLease as KeepLease
from shipyard.services.leases import _utc
from shipyard.services.leases import acquire_lease as acquire_lease
from shipyard.services.leases import release_lease as release_lease
from shipyard.services.leases import renew_lease as renew_lease
from shipyard.services.owners import on_this_host, owner_alive
from shipyard.store import audit
from shipyard.store.db import Store
from shipyard.store.models import ScheduledRun

log = logging.getLogger(__name__)

PRERELEASE, POLL = "prerelease", "poll"
RUNNING, SUCCEEDED, SKIPPED, FAILED = "running", "succeeded", "skipped", "failed"
# The longest the loop sleeps, so a changed clock or a stop request is noticed soon.
MAX_SLEEP = 5.0


@dataclass(frozen=True)
class ScheduleSettings:
    """What runs when. ``prerelease_cron=""`` or ``poll_interval=0`` turns a job off."""

    prerelease_cron: str = "0 0 * * 1-5"
    timezone: str = "UTC"
    poll_interval: float = 30.0  # seconds
    catch_up_window: timedelta = timedelta(hours=24)
    lease_ttl: float = 30.0  # seconds a poller may go without renewing its lease
    # A run left "running" by a server on another host is presumed dead after this.
    run_timeout: timedelta = timedelta(hours=1)

    def cron(self) -> Cron | None:
        """The pre-release schedule; ValueError names a bad field."""
        if not self.prerelease_cron.strip():
            return None
        return parse(self.prerelease_cron, ZoneInfo(self.timezone))


@dataclass(frozen=True)
class Outcome:
    """What a job reports: ``succeeded``, ``skipped`` (nothing to do) or ``failed``."""

    outcome: str
    detail: str


@dataclass(frozen=True)
class RunResult:
    job: str
    slot: str
    outcome: str
    detail: str
    run_id: int | None = None


# A job: given the context and its slot's time, do the work.
Action = Callable[[Context, datetime], Outcome]


def _now() -> datetime:
    return datetime.now(UTC)


# -- runs -----------------------------------------------------------------------------------------


def slot_key(at: datetime) -> str:
    """The key of the slot at ``at``, in its own timezone's offset: 2024-09-02T00:00+02:00."""
    return at.isoformat(timespec="minutes")


def claim(store: Store, app_id: int, job: str, slot: str, runner: str, now: datetime) -> int | None:
    """Record that ``runner`` starts ``job`` for ``slot``; None if a run for it exists."""
    try:
        with store.write() as s:
            run = ScheduledRun(
                app_id=app_id,
                job=job,
                slot=slot,
                started_at=_utc(now),
                outcome=RUNNING,
                detail="",
                runner=runner,
            )
            s.add(run)
            s.flush()
            return run.id
    except IntegrityError:
        return None


def finish(
    ctx: Context, run_id: int, outcome: Outcome, now: datetime, *, if_running: bool = False
) -> None:
    """Record a run's outcome and its audit record, together."""

    def write(session: Session) -> None:
        run = session.get(ScheduledRun, run_id, with_for_update=True)
        assert run is not None
        if if_running and run.outcome != RUNNING:
            return
        run.outcome = outcome.outcome
        run.detail = outcome.detail
        run.finished_at = _utc(now)
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action=f"schedule.{run.job}",
            subject=run.slot,
            data={"outcome": outcome.outcome, "detail": outcome.detail, "runner": run.runner},
            at=now,
        )

    ctx.store.retrying(write)


def last_slot(store: Store, app_id: int, job: str) -> datetime | None:
    """The newest slot recorded for ``job`` (slots carry offsets, so compare as times)."""
    with store.read() as s:
        slots = s.execute(
            select(ScheduledRun.slot)
            .where(ScheduledRun.app_id == app_id, ScheduledRun.job == job)
            .order_by(ScheduledRun.id.desc())
            .limit(50)
        ).scalars()
        times = [datetime.fromisoformat(k) for k in slots]
    return max(times, default=None)


def _runner_gone(run: ScheduledRun, now: datetime, timeout: timedelta) -> bool:
    if on_this_host(run.runner):
        return not owner_alive(run.runner)  # host:pid:start-time, checked against /proc
    started = run.started_at.replace(tzinfo=run.started_at.tzinfo or UTC)
    return now - started > timeout


def abandon_dead_runs(ctx: Context, holder: str, now: datetime, timeout: timedelta) -> list[int]:
    """Mark as failed the runs whose server stopped mid-run (or this holder's, from before).

    Their slot is not run again: a half-done job may have left a tag behind.
    """
    with ctx.store.read() as s:
        running = s.execute(
            select(ScheduledRun).where(
                ScheduledRun.app_id == ctx.app_id, ScheduledRun.outcome == RUNNING
            )
        ).scalars()
        dead = [r for r in running if r.runner == holder or _runner_gone(r, now, timeout)]
    for run in dead:
        gone = Outcome(FAILED, f"abandoned: {run.runner} stopped during the run")
        finish(ctx, run.id, gone, now, if_running=True)
    return [run.id for run in dead]


def history(ctx: Context, limit: int = 50, job: str | None = None) -> list[ScheduledRun]:
    """The newest scheduled runs first, for the CLI and the dashboard."""
    query = select(ScheduledRun).where(ScheduledRun.app_id == ctx.app_id)
    if job is not None:
        query = query.where(ScheduledRun.job == job)
    with ctx.store.read() as s:
        return list(s.execute(query.order_by(ScheduledRun.id.desc()).limit(limit)).scalars())


# -- the jobs -------------------------------------------------------------------------------------


def run_prerelease(ctx: Context, slot: datetime) -> Outcome:
    """Cut the pre-release named after the slot's day; "nothing changed" is a skip."""
    from shipyard.services.releases import cut_prerelease

    result = cut_prerelease(ctx, on=slot.date())
    return Outcome(SUCCEEDED if result.release is not None else SKIPPED, result.message)


def run_poll(ctx: Context, _at: datetime) -> Outcome:
    """Look for new commits on main and build them, as ``shipyard sync`` does.

    Holds the app's ingest lock, so a webhook's sync in this process waits for it.
    """
    from shipyard.services.builds import sync
    from shipyard.services.webhooks.ingest import sync_lock

    with sync_lock(ctx.settings):
        result = sync(ctx)
    if not (result.new_builds or result.passed or result.failed or result.deploy_failed):
        return Outcome(SKIPPED, "no new commits")
    parts = [f"{len(result.new_builds)} new commit(s)"]
    if result.passed:
        parts.append("passed " + ", ".join(result.passed))
    if result.failed:
        parts.append("failed " + ", ".join(result.failed))
    parts += [f"{env} <- {sha}" for env, sha in result.deployed.items()]
    parts += [f"{env}: deployment failed: {why}" for env, why in result.deploy_failed.items()]
    return Outcome(FAILED if result.deploy_failed else SUCCEEDED, "; ".join(parts))


DEFAULT_ACTIONS: Mapping[str, Action] = {PRERELEASE: run_prerelease, POLL: run_poll}


def _attempt(ctx: Context, action: Action, at: datetime) -> Outcome:
    # A scheduler outlives its jobs: any error becomes a failed run, never a dead loop.
    try:
        return action(ctx, at)
    except ShipyardError as exc:
        return Outcome(FAILED, exc.message)
    except Exception as exc:
        log.exception("scheduled job failed")
        return Outcome(FAILED, f"{type(exc).__name__}: {exc}")


# -- the scheduler --------------------------------------------------------------------------------


@dataclass
class Scheduler:
    """Runs the jobs of one app. ``holder`` names this server in leases and runs."""

    ctx: Context
    settings: ScheduleSettings
    holder: str
    actions: Mapping[str, Action] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    clock: Callable[[], datetime] = _now
    _cron: Cron | None = field(init=False, default=None)
    _next_poll: datetime | None = field(init=False, default=None)
    _poll_failure: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._cron = self.settings.cron()

    @property
    def poll_lease(self) -> str:
        return f"poll:{self.ctx.app_id}"

    def tick(self, now: datetime, stop: threading.Event | None = None) -> list[RunResult]:
        """Run whatever is due at ``now``; return the runs this server made.

        With ``stop`` set, no further job starts (a running one finishes).
        """
        # Between ticks this server runs nothing, so its own "running" rows are stale too.
        abandon_dead_runs(self.ctx, self.holder, now, self.settings.run_timeout)
        recover_dead(self.ctx)  # a server or CLI killed mid-rollout leaves nothing in progress
        results = []
        for job in (self._poll, self._prerelease):
            if stop is not None and stop.is_set():
                break
            result = job(now)
            if result is not None:
                results.append(result)
        return results

    def _prerelease(self, now: datetime) -> RunResult | None:
        if self._cron is None:
            return None
        slot = self._cron.previous_at_or_before(now)
        if slot < now - self.settings.catch_up_window:
            return None
        last = last_slot(self.ctx.store, self.ctx.app_id, PRERELEASE)
        if last is not None and slot <= last:
            return None
        key = slot_key(slot)
        run_id = claim(self.ctx.store, self.ctx.app_id, PRERELEASE, key, self.holder, now)
        if run_id is None:
            return None  # another server has this slot
        return self._run(PRERELEASE, run_id, key, slot, now)

    def _poll(self, now: datetime) -> RunResult | None:
        interval = self.settings.poll_interval
        if interval <= 0 or (self._next_poll is not None and now < self._next_poll):
            return None
        self._next_poll = now + timedelta(seconds=interval)
        # Short, renewed while a poll runs; a holder that died on this host loses it at once.
        ttl = self.settings.lease_ttl
        if not acquire_lease(self.ctx.store, self.poll_lease, self.holder, ttl, now=now):
            return None
        with KeepLease(self.ctx.store, self.poll_lease, self.holder, ttl, self.clock):
            outcome = _attempt(self.ctx, self.actions[POLL], now)
        repeated = outcome.outcome == FAILED and outcome.detail == self._poll_failure
        self._poll_failure = outcome.detail if outcome.outcome == FAILED else None
        if outcome.outcome == SKIPPED or repeated:
            # Not recorded: an idle poll, or the same failure as the poll before.
            return RunResult(POLL, "", outcome.outcome, outcome.detail)
        key = now.astimezone(UTC).isoformat(timespec="seconds")
        run_id = claim(self.ctx.store, self.ctx.app_id, POLL, key, self.holder, now)
        if run_id is None:  # two polls within one second: keep the first record
            return RunResult(POLL, key, outcome.outcome, outcome.detail)
        finish(self.ctx, run_id, outcome, now)
        self._report(POLL, key, outcome)
        return RunResult(POLL, key, outcome.outcome, outcome.detail, run_id)

    def _run(self, job: str, run_id: int, key: str, at: datetime, now: datetime) -> RunResult:
        outcome = _attempt(self.ctx, self.actions[job], at)
        finish(self.ctx, run_id, outcome, now)
        self._report(job, key, outcome)
        return RunResult(job, key, outcome.outcome, outcome.detail, run_id)

    def _report(self, job: str, key: str, outcome: Outcome) -> None:
        message = f"scheduled {job} {key}: {outcome.outcome}: {outcome.detail}"
        if outcome.outcome == FAILED:
            log.warning(message)
            self.ctx.reporter.warn(message)
            from shipyard.services.notify import emit

            emit(self.ctx, "schedule.failed", message, details={"job": job, "slot": key})
        else:
            log.info(message)
            self.ctx.reporter.step(message)

    def next_due(self, now: datetime) -> datetime:
        """When something may next be due (bounded by the poll interval, and by a third of
        the lease time, so a deployment whose heartbeat stopped is recovered soon)."""
        due = [now + timedelta(seconds=self.settings.lease_ttl / 3)]
        if self._cron is not None:
            due.append(self._cron.next_after(now))
        if self.settings.poll_interval > 0:
            due.append(self._next_poll or now)
        return min(due)

    def run_forever(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set; a job already running finishes first."""
        try:
            while not stop.is_set():
                now = self.clock()
                try:
                    self.tick(now, stop)
                except ShipyardError as exc:  # the database went away: try again soon
                    log.warning("scheduler tick failed: %s", exc.message)
                except Exception:
                    log.exception("scheduler tick failed")
                wait = (self.next_due(now) - self.clock()).total_seconds()
                stop.wait(min(max(wait, 0.05), MAX_SLEEP))
        finally:
            try:
                release_lease(self.ctx.store, self.poll_lease, self.holder)
            except ShipyardError as exc:
                log.warning("could not release the poll lease: %s", exc.message)
