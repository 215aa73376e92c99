"""Freeze windows from the file: on now, coming, merged; and the freeze and E2E gates."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from shipyard.config.freezes import FreezeConfig
from shipyard.core.freezes import active, upcoming, windows_of
from shipyard.core.gates import DeployFacts, evaluate, refusal

LA = ZoneInfo("America/Los_Angeles")
WEEKEND = FreezeConfig(
    name="weekend",
    cron="0 18 * * FRI",
    duration=62 * 3600,
    timezone="America/Los_Angeles",
    environments=["prod"],
)


def test_a_cron_window_is_on_from_its_start_for_its_duration() -> None:
    saturday = datetime(2026, 12, 5, 12, tzinfo=LA)
    on, nxt = windows_of(WEEKEND, saturday)
    assert on.start == datetime(2026, 12, 4, 18, tzinfo=LA)
    assert on.end == datetime(2026, 12, 7, 8, tzinfo=LA)
    assert nxt.start == datetime(2026, 12, 11, 18, tzinfo=LA)
    assert active([on, nxt], "prod", saturday) == [on]
    assert active([on, nxt], "stage", saturday) == []
    assert on.until == "until Mon 2026-12-07 08:00 PST"


def test_outside_the_window_only_the_next_one_is_listed() -> None:
    monday_noon = datetime(2026, 12, 7, 12, tzinfo=LA)
    (nxt,) = windows_of(WEEKEND, monday_noon)
    assert nxt.start == datetime(2026, 12, 11, 18, tzinfo=LA)
    assert active([nxt], "prod", monday_noon) == []
    assert upcoming([nxt], monday_noon, timedelta(days=14)) == [nxt]
    assert upcoming([nxt], monday_noon, timedelta(days=1)) == []
    # The minute it ends, it is over.
    assert (
        active(
            windows_of(WEEKEND, datetime(2026, 12, 7, 8, tzinfo=LA)),
            "prod",
            datetime(2026, 12, 7, 8, tzinfo=LA),
        )
        == []
    )


def test_overlapping_windows_make_one() -> None:
    hourly = replace(WEEKEND, cron="0 * * * *", duration=2 * 3600, environments=[])
    now = datetime(2026, 12, 5, 12, 30, tzinfo=UTC)
    windows = windows_of(hourly, now)
    assert len(windows) == 1  # it never ends: every hour starts another two
    (on,) = active(windows, "stage", now)
    assert on.start == datetime(2026, 12, 5, 12, tzinfo=UTC)


def test_dates_are_on_until_their_end_and_gone_after() -> None:
    holidays = FreezeConfig(
        name="holidays",
        start=datetime(2026, 12, 23, tzinfo=UTC),
        end=datetime(2027, 1, 3, tzinfo=UTC),
    )
    (w,) = windows_of(holidays, datetime(2026, 12, 1, tzinfo=UTC))
    assert not w.active_at(datetime(2026, 12, 1, tzinfo=UTC))
    assert w.active_at(datetime(2027, 1, 2, 23, 59, tzinfo=UTC))
    assert windows_of(holidays, datetime(2027, 1, 3, tzinfo=UTC)) == []


FACTS = DeployFacts(
    environment="prod",
    short_sha="abc1234",
    on_main=True,
    main_branch="main",
    build_status="passed",
    artifact="sha256:x",
    frozen=["weekend, until Mon 2026-12-07 08:00 PST"],
)


def _freeze_gate(**kw: object) -> tuple[bool, str]:
    (g,) = [g for g in evaluate(replace(FACTS, **kw)) if g.name == "freeze"]  # type: ignore[arg-type]
    return g.ok, g.detail


def test_a_freeze_refuses_naming_it_and_when_it_ends() -> None:
    assert refusal("prod", evaluate(FACTS)) == (
        "deploy to prod refused: prod is frozen (weekend, until Mon 2026-12-07 08:00 PST); "
        "an admin may override with --override-freeze"
    )
    assert not [g for g in evaluate(replace(FACTS, frozen=())) if g.name == "freeze"]


def test_only_an_admin_with_a_reason_overrides() -> None:
    assert _freeze_gate(override_freeze=True)[1].endswith("only an admin may override a freeze")
    assert not _freeze_gate(override_freeze=True, admin=True)[0]
    ok, detail = _freeze_gate(override_freeze=True, admin=True, reason="fix for checkout")
    assert ok and detail.endswith("overridden: fix for checkout")
    assert _freeze_gate(skip_qa=True)[0]  # a rollback may go


def test_the_e2e_gate_needs_a_passed_run() -> None:
    def e2e(status: str | None, run: int | None = None) -> tuple[bool, str]:
        facts = replace(FACTS, frozen=(), e2e_upstream="stage", e2e_status=status, e2e_run=run)
        (g,) = [g for g in evaluate(facts) if g.name == "e2e"]
        return g.ok, g.detail

    assert e2e("passed", 3) == (True, "E2E against stage passed on abc1234 (run #3)")
    assert e2e(None) == (
        False,
        "no E2E run of abc1234 against stage yet: 'shipyard e2e prod abc1234'",
    )
    assert e2e("failed", 4) == (False, "the last E2E run of abc1234 against stage failed (run #4)")
    assert e2e("running", 5) == (False, "the E2E run of abc1234 against stage is running (run #5)")
