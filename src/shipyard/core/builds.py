"""A build's status, and how its checks decide it.

    pending ──> running ──> passed
        │           ├─────> waiting_image ──> passed   (checks passed; CI's image came later)
        │           └─────> failed
        └─────────────────> failed   (a required check reported failure)

A build is green (``passed``) only when its checks passed **and** its artifact exists:
with an OCI registry, the image ``repository:<build_tag>`` CI pushes. Checks that passed
before the image was pushed leave it ``waiting_image`` until a later look finds the image
(:func:`settle`).

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
WAITING_IMAGE = "waiting_image"

BUILD_STATUSES = (PENDING, RUNNING, WAITING_IMAGE, PASSED, FAILED)
CHECK_STATUSES = (PENDING, RUNNING, PASSED, FAILED, SKIPPED)


def verdict(checks: Mapping[str, str], required: Sequence[str]) -> str:
    """``passed`` when every required check passed; ``failed`` as soon as one failed;
    else ``pending``. ``checks`` maps each reported check's name to its status."""
    states = [checks.get(name) for name in required]
    if any(s == FAILED for s in states):
        return FAILED
    if all(s == PASSED for s in states):
        return PASSED
    return PENDING


def settle(checks: str, artifact: str | None) -> str:
    """A build's status from its checks' verdict and its artifact's digest (None: not
    there yet). Passed checks without an artifact are not green: ``waiting_image``.

    Example::

        settle("passed", None)             # "waiting_image"
        settle("passed", "sha256:ab...")   # "passed"
    """
    if checks == PASSED and not artifact:
        return WAITING_IMAGE
    return checks


def is_green(status: str | None, artifact: str | None) -> bool:
    """Whether a build may be deployed without waiting: checks passed and artifact known."""
    return status == PASSED and bool(artifact)


def shown(status: str, image: str | None = None) -> str:
    """How a build's status reads: ``waiting for image acme/web:abc1234`` names the image."""
    if status == WAITING_IMAGE:
        return f"waiting for image {image}" if image else "waiting for its image"
    return status
