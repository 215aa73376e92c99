"""The scheduler on SQLite and PostgreSQL: leases, one run per slot, catch-up, the loop."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import Project
from shipyard.config import load, parse
from shipyard.errors import ShipyardError
from shipyard.services.context import Context, open_context
from shipyard.services.scheduler import (
    POLL,
    PRERELEASE,
    Outcome,
    RunResult,
    Scheduler,
    ScheduleSettings,
    acquire_lease,
    history,
    release_lease,
    renew_lease,
)
from shipyard.store import audit
from shipyard.store.db import Store, open_store
from shipyard.store.models import AuditEvent, Lease

MONDAY = datetime(2024, 9, 2, tzinfo=UTC)
NO_POLL = ScheduleSettings(poll_interval=0)


def at(day: datetime, hours: float = 0) -> datetime:
    return day + timedelta(hours=hours)


def make_ctx(root: Path, url: str) -> Context:
    settings = parse(
        {
            "app": {"name": "monitor", "run": "true"},
            "environments": {"stage": {"port": 18101, "auto": True}},
            "state": {"database_url": url},
        },
        root=root,
    )
    return Context(settings=settings, store=open_store(url), actor="scheduler@example.com")


@pytest.fixture
def contexts(tmp_path: Path, db_url: str) -> Iterator[Callable[[], Context]]:
    """Contexts on one database, each with its own connections (like separate servers)."""
    made: list[Context] = []

    def make() -> Context:
        ctx = make_ctx(tmp_path, db_url)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.store.close()


class Counter:
    """A job that records the slots it ran for and answers with ``outcome``."""

    def __init__(self, outcome: str = "succeeded") -> None:
        self.slots: list[datetime] = []
        self.outcome = outcome
        self.lock = threading.Lock()

    def __call__(self, ctx: Context, slot: datetime) -> Outcome:
        with self.lock:
            self.slots.append(slot)
        return Outcome(self.outcome, f"ran for {slot.isoformat()}")


def scheduler(
    ctx: Context, holder: str, settings: ScheduleSettings = NO_POLL, **actions: object
) -> Scheduler:
    return Scheduler(ctx, settings, holder=holder, actions=actions)  # type: ignore[arg-type]


def audit_actions(store: Store) -> list[str]:
    with store.read() as s:
        return list(s.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


def lease_expiry(store: Store) -> datetime:
    with store.read() as s:
        expires = s.execute(select(Lease.expires_at)).scalar_one()
    return expires if expires.tzinfo else expires.replace(tzinfo=UTC)


# -- leases ---------------------------------------------------------------------------------------


def test_lease_is_held_renewed_released_and_taken_over_when_expired(
    contexts: Callable[[], Context],
) -> None:
    store = contexts().store
    assert acquire_lease(store, "job", "a", 60, now=MONDAY)
    assert not acquire_lease(store, "job", "b", 60, now=at(MONDAY, 0.01))
    assert acquire_lease(store, "job", "a", 60, now=at(MONDAY, 0.01))  # ours: kept
    assert renew_lease(store, "job", "a", 60, now=at(MONDAY, 0.02))
    assert not renew_lease(store, "job", "b", 60, now=at(MONDAY, 0.02))
    # a stops renewing: once expired, b takes it over and a cannot renew.
    assert acquire_lease(store, "job", "b", 60, now=at(MONDAY, 1))
    assert not renew_lease(store, "job", "a", 60, now=at(MONDAY, 1))
    release_lease(store, "job", "a")  # not a's: nothing happens
    assert not acquire_lease(store, "job", "a", 60, now=at(MONDAY, 1))
    release_lease(store, "job", "b")
    assert acquire_lease(store, "job", "a", 60, now=at(MONDAY, 1))


def test_a_lease_held_by_a_dead_process_on_this_host_is_taken_over_at_once(
    contexts: Callable[[], Context],
) -> None:
    import subprocess

    from shipyard.services.owners import owner_id

    store = contexts().store
    gone = subprocess.Popen(["true"])
    gone.wait()
    # Its pid may be reused; its start time cannot be: the holder is gone either way.
    dead = f"{socket.gethostname()}:{gone.pid}:1"
    elsewhere = "other-host:1:1"
    assert acquire_lease(store, "job", dead, 300, now=MONDAY)
    assert acquire_lease(store, "job", owner_id(), 300, now=at(MONDAY, 0.01))  # not expired
    assert not acquire_lease(store, "job", dead, 300, now=at(MONDAY, 0.02))
    release_lease(store, "job", owner_id())
    assert acquire_lease(store, "job", elsewhere, 36000, now=MONDAY)
    # Another host's process cannot be seen from here: it keeps the lease until its TTL.
    assert not acquire_lease(store, "job", owner_id(), 300, now=at(MONDAY, 1))
    assert acquire_lease(store, "job", owner_id(), 300, now=at(MONDAY, 11))


def test_leases_are_short_by_default() -> None:
    settings = parse(
        {"app": {"name": "x", "run": "r"}, "environments": {"s": {"port": 1}}}, root=Path(".")
    )
    assert settings.schedule.lease_ttl <= 30 and ScheduleSettings().lease_ttl <= 30


@pytest.mark.parametrize("expired_row", [False, True], ids=["fresh", "expired"])
def test_one_of_many_racing_servers_gets_the_lease(
    contexts: Callable[[], Context], expired_row: bool
) -> None:
    stores = [contexts().store for _ in range(6)]
    if expired_row:
        assert acquire_lease(stores[0], "job", "old", 60, now=at(MONDAY, -1))
    barrier = threading.Barrier(len(stores))
    won: list[str] = []

    def race(i: int) -> None:
        barrier.wait()
        if acquire_lease(stores[i], "job", f"server-{i}", 60, now=MONDAY):
            won.append(f"server-{i}")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(won) == 1
    for i in range(len(stores)):
        holder = f"server-{i}"
        assert acquire_lease(stores[i], "job", holder, 60, now=MONDAY) == (holder in won)


# -- once per slot --------------------------------------------------------------------------------


def test_two_servers_ticking_one_slot_run_it_once(contexts: Callable[[], Context]) -> None:
    job = Counter()
    servers = [scheduler(contexts(), f"server-{i}", prerelease=job) for i in range(4)]
    barrier = threading.Barrier(len(servers))
    results: list[RunResult] = []

    def tick(s: Scheduler) -> None:
        barrier.wait()
        results.extend(s.tick(at(MONDAY, 0.1)))

    threads = [threading.Thread(target=tick, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert job.slots == [MONDAY]
    assert [(r.job, r.slot, r.outcome) for r in results] == [
        (PRERELEASE, "2024-09-02T00:00+00:00", "succeeded")
    ]
    ctx = servers[0].ctx
    (run,) = history(ctx)
    assert (run.id, run.job, run.slot, run.outcome) == (
        results[0].run_id,
        PRERELEASE,
        "2024-09-02T00:00+00:00",
        "succeeded",
    )
    assert run.runner in {s.holder for s in servers}
    assert run.detail == "ran for 2024-09-02T00:00:00+00:00"
    assert run.finished_at is not None
    assert audit_actions(ctx.store).count("schedule.prerelease") == 1
    with ctx.store.read() as s:
        assert audit.verify(s).ok
    # Later ticks in the same slot do nothing, on any server.
    assert servers[0].tick(at(MONDAY, 5)) == []
    assert servers[1].tick(at(MONDAY, 23)) == []
    assert job.slots == [MONDAY]


def test_each_weekday_slot_runs_and_the_weekend_does_not(contexts: Callable[[], Context]) -> None:
    job = Counter()
    s = scheduler(contexts(), "a", prerelease=job)
    for hours in range(0, 24 * 7, 6):
        s.tick(at(MONDAY, hours))
    assert [d.strftime("%a %d") for d in job.slots] == [
        "Mon 02",
        "Tue 03",
        "Wed 04",
        "Thu 05",
        "Fri 06",
    ]


# -- catch-up -------------------------------------------------------------------------------------


def test_downtime_over_several_slots_is_caught_up_once(contexts: Callable[[], Context]) -> None:
    job = Counter()
    s = scheduler(contexts(), "a", prerelease=job)
    assert [r.slot for r in s.tick(at(MONDAY, 0.05))] == ["2024-09-02T00:00+00:00"]
    # Down from Monday until Thursday morning: Tuesday's, Wednesday's and
    # Thursday's slots were missed; only Thursday's runs.
    restarted = scheduler(contexts(), "a", prerelease=job)
    results = restarted.tick(at(MONDAY, 3 * 24 + 7))
    assert [r.slot for r in results] == ["2024-09-05T00:00+00:00"]
    assert restarted.tick(at(MONDAY, 3 * 24 + 8)) == []
    assert job.slots == [MONDAY, at(MONDAY, 3 * 24)]
    assert [r.slot for r in history(s.ctx)] == ["2024-09-05T00:00+00:00", "2024-09-02T00:00+00:00"]


def test_a_slot_older_than_the_catch_up_window_is_not_run(
    contexts: Callable[[], Context],
) -> None:
    job = Counter()
    short = ScheduleSettings(poll_interval=0, catch_up_window=timedelta(hours=1))
    s = scheduler(contexts(), "a", short, prerelease=job)
    assert s.tick(at(MONDAY, 2)) == []  # a fresh install at 02:00 does not cut Monday's
    assert s.tick(at(MONDAY, 24.5))[0].slot == "2024-09-03T00:00+00:00"
    # The default window catches up a slot from earlier the same day.
    other = scheduler(contexts(), "b", prerelease=job)
    assert other.tick(at(MONDAY, 24 + 20)) == []  # Tuesday's slot already ran
    assert other.tick(at(MONDAY, 48 + 20))[0].slot == "2024-09-04T00:00+00:00"


def test_slots_follow_the_timezone(contexts: Callable[[], Context]) -> None:
    job = Counter()
    berlin = ScheduleSettings(poll_interval=0, timezone="Europe/Berlin")
    s = scheduler(contexts(), "a", berlin, prerelease=job)
    # Monday 00:00 in Berlin is Sunday 22:00 UTC.
    (result,) = s.tick(datetime(2024, 9, 1, 22, 1, tzinfo=UTC))
    assert result.slot == "2024-09-02T00:00+02:00"
    assert job.slots[0].date().isoformat() == "2024-09-02"


# -- failures -------------------------------------------------------------------------------------


def test_a_failed_run_is_recorded_and_the_next_slot_still_runs(
    contexts: Callable[[], Context],
) -> None:
    calls: list[datetime] = []

    def flaky(ctx: Context, slot: datetime) -> Outcome:
        calls.append(slot)
        if len(calls) == 1:
            raise ShipyardError("stage runs nothing yet")
        if len(calls) == 2:
            raise RuntimeError("boom")
        return Outcome("succeeded", "cut")

    s = scheduler(contexts(), "a", prerelease=flaky)
    (first,) = s.tick(at(MONDAY, 0.1))
    assert (first.outcome, first.detail) == ("failed", "stage runs nothing yet")
    assert s.tick(at(MONDAY, 1)) == []  # a failed slot is not retried
    (second,) = s.tick(at(MONDAY, 24.1))
    assert (second.outcome, second.detail) == ("failed", "RuntimeError: boom")
    (third,) = s.tick(at(MONDAY, 48.1))
    assert third.outcome == "succeeded"
    assert [(r.slot[:10], r.outcome) for r in history(s.ctx)] == [
        ("2024-09-04", "succeeded"),
        ("2024-09-03", "failed"),
        ("2024-09-02", "failed"),
    ]
    assert audit_actions(s.ctx.store).count("schedule.prerelease") == 3
    assert any("stage runs nothing yet" in line for line in s.ctx.reporter.lines)


def test_a_run_its_server_abandoned_is_marked_failed_and_not_rerun(
    contexts: Callable[[], Context],
) -> None:
    from shipyard.services.scheduler import claim

    ctx = contexts()
    here = socket.gethostname()
    dead_here = f"{here}:999999999:1"  # no such process on this host
    claim(ctx.store, ctx.app_id, PRERELEASE, "2024-09-02T00:00+00:00", dead_here, MONDAY)
    claim(ctx.store, ctx.app_id, "other", "2024-09-02T00:00+00:00", "far-away:1:1", MONDAY)
    claim(ctx.store, ctx.app_id, "recent", "2024-09-02T00:00+00:00", "far-away:1:1", at(MONDAY, 1))
    job = Counter()
    s = scheduler(contexts(), "a", prerelease=job)
    assert s.tick(at(MONDAY, 1.5)) == []  # Monday's slot was taken, even if never finished
    assert job.slots == []
    runs = {r.job: (r.outcome, r.detail) for r in history(ctx)}
    assert runs == {
        PRERELEASE: ("failed", f"abandoned: {dead_here} stopped during the run"),
        "other": ("failed", "abandoned: far-away:1:1 stopped during the run"),
        "recent": ("running", ""),  # on another host, and not silent for an hour yet
    }
    assert audit_actions(ctx.store).count("schedule.prerelease") == 1
    assert [r.slot for r in s.tick(at(MONDAY, 24.1))] == ["2024-09-03T00:00+00:00"]


def test_a_bad_cron_names_the_field() -> None:
    with pytest.raises(ValueError, match="hour '25'"):
        ScheduleSettings(prerelease_cron="0 25 * * *").cron()


# -- polling --------------------------------------------------------------------------------------


def test_one_server_polls_at_its_interval(contexts: Callable[[], Context]) -> None:
    settings = ScheduleSettings(prerelease_cron="", poll_interval=30, lease_ttl=120)
    polls = Counter()
    a = scheduler(contexts(), "a", settings, poll=polls)
    b = scheduler(contexts(), "b", settings, poll=polls)
    t = at(MONDAY, 9)
    assert [r.job for r in a.tick(t)] == [POLL]
    assert b.tick(t) == []  # a holds the poll lease
    assert a.tick(t + timedelta(seconds=10)) == []  # not yet due
    assert [r.job for r in a.tick(t + timedelta(seconds=30))] == [POLL]
    assert b.tick(t + timedelta(seconds=60)) == []
    # a goes away without a word: once its lease runs out, b polls.
    assert [r.job for r in b.tick(t + timedelta(seconds=200))] == [POLL]
    assert polls.slots == [t, t + timedelta(seconds=30), t + timedelta(seconds=200)]
    assert [r.runner for r in history(a.ctx, job=POLL)] == ["b", "a", "a"]


def test_an_idle_poll_leaves_no_record(contexts: Callable[[], Context]) -> None:
    settings = ScheduleSettings(prerelease_cron="", poll_interval=30)
    s = scheduler(contexts(), "a", settings, poll=Counter("skipped"))
    assert [(r.job, r.outcome) for r in s.tick(MONDAY)] == [(POLL, "skipped")]
    assert history(s.ctx) == []
    assert "schedule.poll" not in audit_actions(s.ctx.store)


def test_a_poll_failure_is_recorded_once_until_it_changes(
    contexts: Callable[[], Context],
) -> None:
    answers = iter(["down", "down", "still down", "ok", "down"])

    def poll(ctx: Context, at: datetime) -> Outcome:
        answer = next(answers)
        if answer == "ok":
            return Outcome("skipped", "no new commits")
        raise ShipyardError(f"git: {answer}")

    s = scheduler(
        contexts(), "a", ScheduleSettings(prerelease_cron="", poll_interval=30), poll=poll
    )
    for i in range(5):
        assert [r.outcome for r in s.tick(at(MONDAY, i))] in (["failed"], ["skipped"])
    assert [(r.outcome, r.detail) for r in history(s.ctx)] == [
        ("failed", "git: down"),
        ("failed", "git: still down"),
        ("failed", "git: down"),
    ]


def test_a_long_job_keeps_its_lease(contexts: Callable[[], Context]) -> None:
    from shipyard.services.scheduler import KeepLease

    store = contexts().store
    assert acquire_lease(store, "job", "a", 0.3, now=MONDAY)
    later = MONDAY + timedelta(seconds=1)
    with KeepLease(store, "job", "a", 0.3, clock=lambda: later):
        for _ in range(200):  # the first renewal comes after 0.1 s
            if lease_expiry(store) > later:
                break
            threading.Event().wait(0.05)
        # Without them the lease would have run out at MONDAY + 0.3 s.
        assert not acquire_lease(store, "job", "b", 0.3, now=later)
    assert acquire_lease(store, "job", "b", 0.3, now=later + timedelta(seconds=1))


def test_polling_waits_for_an_ingest_already_running_in_this_process(
    contexts: Callable[[], Context],
) -> None:
    from shipyard.services.webhooks.ingest import sync_lock

    ctx = contexts()  # its repository does not exist: the poll fails once it runs
    s = Scheduler(ctx, ScheduleSettings(prerelease_cron=""), holder="a")
    results: list[RunResult] = []
    with sync_lock(ctx.settings):
        poll = threading.Thread(target=lambda: results.extend(s.tick(MONDAY)))
        poll.start()
        poll.join(0.3)
        assert poll.is_alive() and results == []
    poll.join(60)
    assert [(r.job, r.outcome) for r in results] == [(POLL, "failed")], results


# -- the loop -------------------------------------------------------------------------------------


def test_run_forever_finishes_the_running_job_then_stops_and_releases(
    contexts: Callable[[], Context],
) -> None:
    started, proceed, stop = threading.Event(), threading.Event(), threading.Event()

    def slow(ctx: Context, slot: datetime) -> Outcome:
        started.set()
        assert proceed.wait(30)
        return Outcome("succeeded", "done")

    settings = ScheduleSettings(poll_interval=30)
    s = Scheduler(
        contexts(),
        settings,
        holder="a",
        actions={PRERELEASE: slow, POLL: Counter("skipped")},
        clock=lambda: at(MONDAY, 0.1),
    )
    loop = threading.Thread(target=s.run_forever, args=(stop,))
    loop.start()
    assert started.wait(30)
    stop.set()
    proceed.set()
    loop.join(30)
    assert not loop.is_alive()
    (run,) = history(s.ctx)
    assert (run.outcome, run.detail) == ("succeeded", "done")
    # The poll lease was given up on the way out: another server may take it at once.
    assert acquire_lease(s.ctx.store, s.poll_lease, "b", 60, now=at(MONDAY, 0.1))


def test_once_stop_is_set_no_further_job_starts(contexts: Callable[[], Context]) -> None:
    stop = threading.Event()

    def poll(ctx: Context, at: datetime) -> Outcome:
        stop.set()  # asked to stop while the poll runs
        return Outcome("succeeded", "1 new commit(s)")

    prerelease = Counter()
    s = Scheduler(
        contexts(),
        ScheduleSettings(poll_interval=30),
        holder="a",
        actions={POLL: poll, PRERELEASE: prerelease},
        clock=lambda: at(MONDAY, 0.1),
    )
    s.run_forever(stop)
    assert prerelease.slots == []
    assert [(r.job, r.outcome) for r in history(s.ctx)] == [(POLL, "succeeded")]


# -- the real pre-release -------------------------------------------------------------------------


@pytest.mark.slow
def test_the_prerelease_job_cuts_the_days_tag_once(project: Project) -> None:
    project.ok("sync")
    ctx = open_context(load(project.path / "shipyard.toml"), actor="scheduler@example.com")
    try:
        s = Scheduler(ctx, NO_POLL, holder="a")
        (result,) = s.tick(at(MONDAY, 0.01))
        assert (result.job, result.outcome) == (PRERELEASE, "succeeded")
        assert result.detail.startswith("pre-release 2024.09.02 cut on ")
        assert "2024.09.02" in project.git_tags()
        assert Scheduler(ctx, NO_POLL, holder="b").tick(at(MONDAY, 0.02)) == []
        assert s.tick(at(MONDAY, 12)) == []
        # Nothing changed by Tuesday: the run is recorded as skipped, and no tag is cut.
        (tuesday,) = s.tick(at(MONDAY, 24.01))
        assert tuesday.outcome == "skipped"
        assert "nothing changed" in tuesday.detail
        assert [t for t in project.git_tags() if t.startswith("2024.")] == ["2024.09.02"]
        assert [(r.slot, r.outcome) for r in history(ctx)] == [
            ("2024-09-03T00:00+00:00", "skipped"),
            ("2024-09-02T00:00+00:00", "succeeded"),
        ]
    finally:
        ctx.close()
