from __future__ import annotations

import itertools

import pytest

from shipyard.core import states as st
from shipyard.core.gates import DeployFacts, evaluate, refusal


def test_happy_path_is_allowed_step_by_step() -> None:
    path = [st.QUEUED, st.WAITING_ARTIFACT, st.TAGGING, st.ROLLING_OUT, st.VERIFYING, st.SUCCEEDED]
    for a, b in itertools.pairwise(path):
        st.check_transition(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (st.QUEUED, st.SUCCEEDED),
        (st.SUCCEEDED, st.FAILED),
        (st.FAILED, st.QUEUED),
        (st.TAGGING, st.VERIFYING),
    ],
)
def test_skipping_or_leaving_a_terminal_state_is_refused(a: str, b: str) -> None:
    with pytest.raises(st.IllegalTransition):
        st.check_transition(a, b)


def test_every_active_state_can_fail_and_terminal_states_are_final() -> None:
    for s in st.ACTIVE_STATES:
        assert st.FAILED in st.TRANSITIONS[s]
    assert {st.SUCCEEDED, st.FAILED, st.ROLLED_BACK, st.CANCELLED} == st.TERMINAL_STATES


def facts(**kw: object) -> DeployFacts:
    base: dict[str, object] = dict(
        environment="prod",
        short_sha="abc1234",
        on_main=True,
        main_branch="main",
        build_status="passed",
        artifact="sha256:" + "ab" * 32,
        upstream="stage",
        upstream_ok=True,
        require_qa=True,
        tickets={"MNTOR-1": "verified"},
    )
    base.update(kw)
    return DeployFacts(**base)  # type: ignore[arg-type]


def test_all_gates_pass() -> None:
    gates = evaluate(facts())
    assert all(g.ok for g in gates) and refusal("prod", gates) is None


def test_refusal_names_every_failed_gate() -> None:
    gates = evaluate(
        facts(
            on_main=False, upstream_ok=False, tickets={"MNTOR-1": "merged", "MNTOR-2": "rejected"}
        )
    )
    msg = refusal("prod", gates)
    assert msg == (
        "deploy to prod refused: abc1234 is not on main; abc1234 was never deployed successfully "
        "to stage; unverified tickets: MNTOR-1 (merged), MNTOR-2 (rejected)"
    )


def test_override_is_recorded_in_the_gate() -> None:
    gates = evaluate(facts(tickets={"MNTOR-1": "merged"}, allow_unverified=True, reason="hotfix"))
    qa = next(g for g in gates if g.name == "QA")
    assert qa.ok and "allowed: hotfix" in qa.detail


def test_failed_checks_refuse_and_rollbacks_skip_qa() -> None:
    assert refusal("prod", evaluate(facts(build_status="failed", failed_checks=["unit"]))) == (
        "deploy to prod refused: the build of abc1234 failed (unit)"
    )
    assert refusal("prod", evaluate(facts(tickets={"MNTOR-1": "merged"}, skip_qa=True))) is None


def test_a_key_the_tracker_never_saw_is_not_seen_by_qa_yet() -> None:
    msg = refusal("prod", evaluate(facts(tickets={"MNTOR-7": "unknown"})))
    assert msg == "deploy to prod refused: unverified tickets: MNTOR-7 (not seen by QA yet)"


def test_going_back_names_what_it_takes_out_and_needs_a_reason() -> None:
    back = {"removed_changes": 2, "removed_tickets": ["MNTOR-2", "MNTOR-3"]}
    assert refusal("prod", evaluate(facts(**back))) == (
        "deploy to prod refused: going back to abc1234 takes out 2 changes "
        "(MNTOR-2, MNTOR-3): say why with --reason"
    )
    gates = evaluate(facts(**back, reason="exports broken", skip_qa=True))
    going_back = next(g for g in gates if g.name == "going back")
    assert going_back.ok and going_back.detail.endswith("(MNTOR-2, MNTOR-3): exports broken")
    assert refusal("prod", gates) is None


def test_passed_checks_without_an_image_are_not_green_and_the_deploy_waits() -> None:
    for status in ("passed", "waiting_image"):
        gates = evaluate(facts(build_status=status, artifact=None, image="acme/web:abc1234"))
        checks = next(g for g in gates if g.name == "checks")
        assert checks.detail == (
            "checks of abc1234 passed, image acme/web:abc1234 is not there yet: the deploy will wait"
        )
    # The fact never recorded reads the same: never "every check passed".
    gates = evaluate(facts(artifact=None))
    assert next(g for g in gates if g.name == "checks").detail == (
        "checks of abc1234 passed, its artifact is not there yet: the deploy will wait"
    )
    assert next(g for g in evaluate(facts()) if g.name == "checks").detail == "every check passed"
