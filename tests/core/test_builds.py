"""A build's verdict: checks and artifact together decide whether it is green."""

from __future__ import annotations

from shipyard.core.builds import (
    FAILED,
    PASSED,
    PENDING,
    WAITING_IMAGE,
    is_green,
    settle,
    shown,
    verdict,
)

DIGEST = "sha256:" + "cd" * 32


def test_passed_checks_without_an_artifact_wait_for_the_image() -> None:
    assert settle(PASSED, None) == WAITING_IMAGE
    assert settle(PASSED, "") == WAITING_IMAGE
    assert settle(PASSED, DIGEST) == PASSED
    assert settle(FAILED, None) == FAILED
    assert settle(PENDING, None) == PENDING


def test_green_needs_both_facts() -> None:
    assert is_green(PASSED, DIGEST)
    assert not is_green(PASSED, None)  # never recorded is not green
    assert not is_green(WAITING_IMAGE, None)
    assert not is_green(FAILED, DIGEST)
    assert not is_green(None, DIGEST)


def test_the_waiting_status_names_the_image() -> None:
    assert shown(WAITING_IMAGE, "acme/web:abc1234") == "waiting for image acme/web:abc1234"
    assert shown(WAITING_IMAGE) == "waiting for its image"
    assert shown(PASSED, "acme/web:abc1234") == "passed"


def test_verdict_of_required_checks() -> None:
    assert verdict({"ci": PASSED}, ["ci"]) == PASSED
    assert verdict({"ci": FAILED, "lint": PASSED}, ["ci", "lint"]) == FAILED
    assert verdict({"lint": PASSED}, ["ci", "lint"]) == PENDING
