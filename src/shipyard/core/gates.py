"""Deciding whether a deploy may go: pure functions over facts gathered elsewhere.

Each gate says pass or fail and why, so the CLI and the dashboard can show all of
them at once, and a refusal names every reason, not just the first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shipyard.core.approvals import span
from shipyard.core.builds import FAILED, PASSED, WAITING_IMAGE, is_green

SIGNED_OFF = frozenset({"verified", "promoted"})
NOT_SEEN = "not seen by QA yet"
"""How a ticket the tracker never saw (raw status "unknown") reads: unverified."""


def shown_status(raw: str) -> str:
    """A raw status as a gate names it; "unknown" is a key the tracker never saw."""
    return NOT_SEEN if raw == "unknown" else raw


@dataclass(frozen=True)
class Gate:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class DeployFacts:
    environment: str
    short_sha: str
    on_main: bool
    main_branch: str
    build_status: str | None  # None: no build recorded for the commit
    artifact: str | None = None  # the build's artifact digest; None: not there (yet)
    image: str | None = None  # what the artifact is awaited as, e.g. "acme/web:abc1234"
    failed_checks: Sequence[str] = ()
    upstream: str | None = None
    upstream_ok: bool = True
    soak: float = 0.0  # seconds the commit must have run on ``upstream``
    soaked: float | None = None  # seconds since it first succeeded there; None: never
    require_qa: bool = False
    tickets: Mapping[str, str] = field(default_factory=dict)  # key -> raw status
    allow_unverified: bool = False
    reason: str | None = None
    skip_qa: bool = False  # a rollback returns to a version that already passed
    removed_changes: int = 0  # going back: changes the environment runs that REF lacks
    removed_tickets: Sequence[str] = ()
    frozen: Sequence[str] = ()  # the freezes on the environment now, each described
    override_freeze: bool = False  # asked to deploy despite them (needs an admin and a reason)
    admin: bool = False  # whoever asks is an admin
    e2e_upstream: str | None = None  # the E2E gate: the environment its runs go against
    e2e_status: str | None = None  # the last run on the commit: passed | failed | running
    e2e_run: int | None = None
    collected: bool = False  # ``shipyard gc`` removed the build's artifact


def unverified(tickets: Mapping[str, str]) -> list[str]:
    return [k for k, status in tickets.items() if status not in SIGNED_OFF]


def evaluate(f: DeployFacts) -> list[Gate]:
    gates = [
        Gate(
            "on main",
            f.on_main,
            f"{f.short_sha} is on {f.main_branch}"
            if f.on_main
            else f"{f.short_sha} is not on {f.main_branch}",
        )
    ]
    gates.append(_checks(f))
    if f.upstream is not None:
        gates.append(
            Gate(
                f"ran on {f.upstream}",
                f.upstream_ok,
                f"{f.short_sha} succeeded on {f.upstream}"
                if f.upstream_ok
                else f"{f.short_sha} was never deployed successfully to {f.upstream}",
            )
        )
    if f.soak and f.upstream is not None and not f.skip_qa:
        gates.append(_soak(f))
    if f.require_qa and not f.skip_qa:
        gates.append(_qa(f))
    if f.e2e_upstream is not None and not f.skip_qa:
        gates.append(_e2e(f))
    if f.removed_changes:
        gates.append(_going_back(f))
    if f.frozen:
        gates.append(_freeze(f))
    return gates


def _qa(f: DeployFacts) -> Gate:
    """Every ticket coming in is verified, or unverified ones are allowed with a reason."""
    missing = unverified(f.tickets)
    if not missing:
        n = len(f.tickets)
        return Gate(
            "QA", True, f"all {n} ticket{'s' if n != 1 else ''} verified" if n else "no tickets"
        )
    if f.allow_unverified:
        listed = ", ".join(missing)
        return Gate("QA", True, f"{len(missing)} unverified ({listed}), allowed: {f.reason}")
    listed = ", ".join(f"{k} ({shown_status(f.tickets[k])})" for k in missing)
    return Gate("QA", False, f"unverified tickets: {listed}")


def _freeze(f: DeployFacts) -> Gate:
    """During a freeze only an admin with a reason deploys; a rollback always may."""
    what = f"{f.environment} is frozen ({'; '.join(f.frozen)})"
    if f.skip_qa:
        return Gate("freeze", True, f"{what}: a rollback may go")
    if not f.override_freeze:
        return Gate("freeze", False, f"{what}; an admin may override with --override-freeze")
    if not f.admin:
        return Gate("freeze", False, f"{what}; only an admin may override a freeze")
    if not (f.reason or "").strip():
        return Gate("freeze", False, f'{what}; overriding it needs --reason "..."')
    return Gate("freeze", True, f"{what}; overridden: {f.reason}")


def _e2e(f: DeployFacts) -> Gate:
    """The last E2E run of the commit against the upstream environment must have passed."""
    sha, up = f.short_sha, f.e2e_upstream
    run = f" (run #{f.e2e_run})" if f.e2e_run is not None else ""
    if f.e2e_status == PASSED:
        return Gate("e2e", True, f"E2E against {up} passed on {sha}{run}")
    if f.e2e_status is None:
        return Gate(
            "e2e",
            False,
            f"no E2E run of {sha} against {up} yet: 'shipyard e2e {f.environment} {sha}'",
        )
    if f.e2e_status == FAILED:
        return Gate("e2e", False, f"the last E2E run of {sha} against {up} failed{run}")
    return Gate("e2e", False, f"the E2E run of {sha} against {up} is {f.e2e_status}{run}")


def _checks(f: DeployFacts) -> Gate:
    """The build's verdict. Green needs the artifact too: checks that passed without a
    recorded artifact are not green (the deploy waits for it, bounded, and fails if it
    never comes)."""
    sha = f.short_sha
    if f.collected:
        return Gate(
            "checks",
            False,
            f"artifact of {sha} collected by gc; rebuild with 'shipyard rebuild {sha}'",
        )
    if f.build_status == FAILED:
        names = ", ".join(f.failed_checks) or "a check"
        return Gate("checks", False, f"the build of {sha} failed ({names})")
    if is_green(f.build_status, f.artifact):
        return Gate("checks", True, "every check passed")
    if f.build_status in (PASSED, WAITING_IMAGE):
        what = f"image {f.image}" if f.image else "its artifact"
        return Gate(
            "checks", True, f"checks of {sha} passed, {what} is not there yet: the deploy will wait"
        )
    if f.build_status is None:
        return Gate("checks", True, f"no build of {sha} yet: the deploy will wait for it")
    return Gate("checks", True, f"build of {sha} is {f.build_status}: the deploy will wait")


def _soak(f: DeployFacts) -> Gate:
    """How long the commit has run upstream, counted from its first successful deployment
    there (whether or not it still runs there), against ``soak``."""
    name, need = f"soaked on {f.upstream}", span(f.soak)
    if f.soaked is None:
        return Gate(name, False, f"{f.short_sha} has not run on {f.upstream} yet (soak {need})")
    if f.soaked >= f.soak:
        return Gate(name, True, f"{f.short_sha} has run on {f.upstream} for {span(f.soaked)}")
    left = span(math.ceil(f.soak - f.soaked))
    return Gate(
        name,
        False,
        f"{f.short_sha} has run on {f.upstream} for {span(f.soaked)} of {need}: {left} to go",
    )


def _going_back(f: DeployFacts) -> Gate:
    """A deploy to an older commit takes changes out; it needs a reason."""
    n = f.removed_changes
    what = f"takes out {n} change{'s' if n != 1 else ''}"
    if f.removed_tickets:
        what += f" ({', '.join(f.removed_tickets)})"
    if (f.reason or "").strip():
        return Gate("going back", True, f"{f.short_sha} {what}: {f.reason}")
    return Gate("going back", False, f"going back to {f.short_sha} {what}: say why with --reason")


def refusal(environment: str, gates: Sequence[Gate]) -> str | None:
    """One line naming every failed gate, or None when all pass."""
    failed = [g.detail for g in gates if not g.ok]
    if not failed:
        return None
    return f"deploy to {environment} refused: " + "; ".join(failed)
