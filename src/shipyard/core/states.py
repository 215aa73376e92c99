"""The deployment state machine, as data.

    queued ──> waiting_artifact ──> tagging ──> rolling_out ──> verifying ──> succeeded
       │              │                │              │              ├──> rolled_back
       └> cancelled   └────────────────┴──────────────┴──────────────┴──> failed

    awaiting_approval ──> queued (the last approval)
            └──────────> cancelled (cancelled by someone, or waited too long)

A deploy to an environment with ``approvals`` starts in ``awaiting_approval``: it holds
neither the environment nor a place in its queue (other deployments pass it) until the
last approval moves it to ``queued``, or it is cancelled.

Only the states in ``ACTIVE_STATES`` hold an environment; the database allows one
such deployment per environment at a time. Every change of state goes through
``check_transition``.
"""

from __future__ import annotations

AWAITING_APPROVAL = "awaiting_approval"
QUEUED = "queued"
WAITING_ARTIFACT = "waiting_artifact"
TAGGING = "tagging"
ROLLING_OUT = "rolling_out"
VERIFYING = "verifying"
SUCCEEDED = "succeeded"
FAILED = "failed"
ROLLED_BACK = "rolled_back"
CANCELLED = "cancelled"

TRANSITIONS: dict[str, frozenset[str]] = {
    AWAITING_APPROVAL: frozenset({QUEUED, CANCELLED}),
    QUEUED: frozenset({WAITING_ARTIFACT, CANCELLED, FAILED}),
    WAITING_ARTIFACT: frozenset({TAGGING, FAILED}),
    TAGGING: frozenset({ROLLING_OUT, FAILED}),
    ROLLING_OUT: frozenset({VERIFYING, FAILED}),
    VERIFYING: frozenset({SUCCEEDED, FAILED, ROLLED_BACK}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    ROLLED_BACK: frozenset(),
    CANCELLED: frozenset(),
}

ACTIVE_STATES = frozenset({WAITING_ARTIFACT, TAGGING, ROLLING_OUT, VERIFYING})
TERMINAL_STATES = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


class IllegalTransition(ValueError):
    pass


def check_transition(current: str, new: str) -> None:
    """Raise IllegalTransition unless ``current -> new`` is in the table."""
    if new not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(f"a deployment cannot go from {current} to {new}")
