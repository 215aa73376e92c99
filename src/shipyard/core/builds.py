"""A build's status, and how its checks decide it.

    pending ──> running ──> passed
        │           └─────> failed
        └─────────────────> failed   (a required check reported failure)

A check has the same statuses, plus ``skipped`` (a local check after one failed).
With ``required_checks`` an external CI decides: :func:`verdict` reads the latest
report of each required check.

Example::

    verdict({"lint": "passed", "unit": "running"}, ["lint", "unit"])  # "pending"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

PENDING = "pending"
RUNNING = "running"
PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"

BUILD_STATUSES = (PENDING, RUNNING, PASSED, FAILED)
CHECK_STATUSES = (*BUILD_STATUSES, SKIPPED)


def verdict(checks: Mapping[str, str], required: Sequence[str]) -> str:
    """``passed`` when every required check passed; ``failed`` as soon as one failed;
    else ``pending``. ``checks`` maps each reported check's name to its status."""
    states = [checks.get(name) for name in required]
    if any(s == FAILED for s in states):
        return FAILED
    if all(s == PASSED for s in states):
        return PASSED
    return PENDING
