"""Reading GitHub's webhook payloads (real examples, trimmed) into intents."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from shipyard.core import github

PAYLOADS = Path(__file__).parents[1] / "web" / "payloads"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return data


def test_push_to_a_branch() -> None:
    intent = github.parse("push", payload("push"))
    assert intent == github.Push(
        repository="Codertocat/Hello-World",
        branch="master",
        tag=None,
        after="6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        deleted=False,
        sender="Codertocat",
    )


def test_a_deleted_tag_is_a_push_without_a_branch() -> None:
    intent = github.parse("push", payload("push_tag_deleted"))
    assert isinstance(intent, github.Push)
    assert (intent.branch, intent.tag, intent.deleted) == (None, "simple-tag", True)


def test_merged_pull_request() -> None:
    intent = github.parse("pull_request", payload("pull_request_closed"))
    assert intent == github.Merged(
        repository="Codertocat/Hello-World",
        number=2,
        base="master",
        merge_commit="c4295bd74fb0f4fda03689c3df3f2803b658fd85",
        title="Update the README with new information.",
        sender="Codertocat",
    )


def test_pull_request_closed_without_merging_is_skipped() -> None:
    data = payload("pull_request_closed")
    data["pull_request"]["merged"] = False
    intent = github.parse("pull_request", data)
    assert intent == github.Skip("Codertocat/Hello-World", "pull request closed, not merged")


def test_status_is_a_check_report_with_the_branches_holding_the_commit() -> None:
    intent = github.parse("status", payload("status"))
    assert isinstance(intent, github.CheckReport)
    assert intent.sha == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert (intent.name, intent.status, intent.branches) == (
        "default",
        "passed",
        ("master", "changes"),
    )
    assert (intent.subject, intent.author) == ("Initial commit", "Codertocat")


@pytest.mark.parametrize(
    ("state", "status"),
    [("success", "passed"), ("failure", "failed"), ("error", "failed"), ("pending", "running")],
)
def test_status_states(state: str, status: str) -> None:
    data = payload("status")
    data["state"] = state
    intent = github.parse("status", data)
    assert isinstance(intent, github.CheckReport) and intent.status == status


@pytest.mark.parametrize(
    ("event", "name", "sha", "branch"),
    [
        (
            "check_run_completed",
            "Octocoders-linter",
            "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
            "changes",
        ),
        (
            "check_suite_completed",
            "octocoders-linter",
            "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
            "changes",
        ),
        ("workflow_run_completed", "test", "3484a3fb816e0859fd6e1cea078d76385ff50625", "master"),
    ],
)
def test_completed_checks(event: str, name: str, sha: str, branch: str) -> None:
    intent = github.parse(event.rsplit("_", 1)[0], payload(event))
    assert isinstance(intent, github.CheckReport)
    assert (intent.name, intent.sha, intent.branches, intent.status) == (
        name,
        sha,
        (branch,),
        "passed",
    )


@pytest.mark.parametrize(
    ("conclusion", "status"),
    [
        ("success", "passed"),
        ("neutral", "passed"),
        ("skipped", "passed"),
        ("failure", "failed"),
        ("cancelled", "failed"),
        ("timed_out", "failed"),
        ("action_required", "failed"),
    ],
)
def test_conclusions(conclusion: str, status: str) -> None:
    data = payload("check_run_completed")
    data["check_run"]["conclusion"] = conclusion
    intent = github.parse("check_run", data)
    assert isinstance(intent, github.CheckReport) and intent.status == status


def test_a_check_run_that_is_not_completed_is_skipped() -> None:
    data = payload("check_run_completed")
    data["action"] = "created"
    intent = github.parse("check_run", data)
    assert isinstance(intent, github.Skip) and "created" in intent.reason


def test_ping_create_release() -> None:
    assert github.parse("ping", payload("ping")) == github.Ping(
        "Octocoders/Hello-World", "Anything added dilutes everything else."
    )
    assert github.parse("create", payload("create")) == github.RefCreated(
        "Codertocat/Hello-World", "tag", "simple-tag", "Codertocat"
    )
    assert github.parse("release", payload("release_published")) == github.ReleaseEvent(
        "Codertocat/Hello-World", "published", "0.0.1", "master", "Codertocat"
    )


def test_an_event_shipyard_does_not_act_on_is_a_skip() -> None:
    assert github.parse("issues", {}) == github.Skip(
        None, "Shipyard does not act on 'issues' events"
    )
    assert github.parse("delete", {"repository": {"full_name": "o/r"}}).repository == "o/r"
    with pytest.raises(github.PayloadError, match="must be a JSON object"):
        github.parse("delete", [])


@pytest.mark.parametrize(
    ("event", "change", "message"),
    [
        ("push", lambda d: d.pop("ref"), "ref: is required"),
        ("push", lambda d: d.update(ref=5), "ref: has the wrong type"),
        ("push", lambda d: d.update(after="not-a-sha"), "after: is not a commit SHA"),
        ("push", lambda d: d.update(repository=[]), "repository.full_name: missing"),
        ("status", lambda d: d.update(state="weird"), "state: unknown state 'weird'"),
        (
            "check_run",
            lambda d: d["check_run"].update(conclusion=None),
            "check_run.conclusion: is required",
        ),
        (
            "pull_request",
            lambda d: d["pull_request"].update(number=True),
            "pull_request.number: has the wrong type",
        ),
        ("create", lambda d: d.update(ref_type="note"), "ref_type: unknown ref type"),
    ],
)
def test_bad_fields_are_named(event: str, change: Any, message: str) -> None:
    names = {"check_run": "check_run_completed", "pull_request": "pull_request_closed"}
    data = copy.deepcopy(payload(names.get(event, event)))
    change(data)
    with pytest.raises(github.PayloadError) as err:
        github.parse(event, data)
    assert message in err.value.message


@pytest.mark.parametrize("body", [[], "text", 3, None])
def test_a_body_that_is_not_an_object(body: Any) -> None:
    with pytest.raises(github.PayloadError, match="must be a JSON object"):
        github.parse("push", body)


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("org/app", "org/app"),
        ("https://github.com/org/app", "org/app"),
        ("https://github.com/org/app.git", "org/app"),
        ("git@github.com:org/app.git", "org/app"),
        ("/srv/repos/app", None),
        ("https://gitlab.com/org/app", None),
        (None, None),
    ],
)
def test_repository_name(source: str | None, name: str | None) -> None:
    assert github.repository_name(source) == name
