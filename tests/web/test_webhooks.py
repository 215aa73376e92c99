"""POST /webhooks/github and /webhooks/build in-process, on a real repository and SQLite."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from conftest import asgi_post, free_port
from shipyard.config import Settings, parse
from shipyard.demo.repo import DemoRepo
from shipyard.errors import Unauthorized
from shipyard.services.webhooks.auth import verify_signature
from shipyard.services.webhooks.deliveries import MAX_BODY, UNAUTHENTICATED, WebhookSettings
from shipyard.services.webhooks.ingest import IngestRunner, drain, sync_lock
from shipyard.store.models import AuditEvent, Build, Check, WebhookDelivery
from shipyard.web.app import create_app

PAYLOADS = Path(__file__).parent / "payloads"
SECRET = "It's a Secret to Everybody"
TOKEN = "ci-token-0123456789"
REPO = "Codertocat/Hello-World"
DEV = ("Bo Dev", "bo@example.com")
ERROR_KEYS = {"code", "message", "details"}
WAIT = 60.0  # an upper bound for background ingest, never an expectation


@dataclass
class Server:
    repo: DemoRepo
    settings: Settings
    app: FastAPI

    def configure(self, **changes: Any) -> None:
        state = self.app.state.webhook_settings
        state["monitor"] = replace(state["monitor"], **changes)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        response: httpx.Response = asgi_post(self.app, path, body, headers)
        return response

    def github(
        self,
        event: str,
        data: Any,
        *,
        delivery: str | None = None,
        secret: str | None = SECRET,
        raw: bytes | None = None,
    ) -> httpx.Response:
        return self.post("/webhooks/github", *github_request(event, data, secret, delivery, raw))

    def build_hook(self, data: Any, *, token: str | None = TOKEN, **headers: str) -> httpx.Response:
        h = {"content-type": "application/json", **headers}
        if token is not None:
            h["authorization"] = f"Bearer {token}"
        return self.post("/webhooks/build", json.dumps(data).encode(), h)

    def wait(self) -> None:
        assert drain(self.settings, WAIT), "ingest did not finish"

    def head(self) -> str:
        return self.repo.git("rev-parse", "HEAD").strip()

    def builds(self) -> list[Build]:
        with self.app.state.store.read() as s:
            return list(s.execute(select(Build).order_by(Build.id)).scalars())

    def checks(self, sha: str) -> dict[str, str]:
        with self.app.state.store.read() as s:
            rows = s.execute(select(Check.name, Check.status).join(Build).where(Build.sha == sha))
            return {name: status for name, status in rows}

    def deliveries(self) -> list[tuple[str, str, str]]:
        with self.app.state.store.read() as s:
            rows = s.execute(
                select(
                    WebhookDelivery.source, WebhookDelivery.event, WebhookDelivery.outcome
                ).order_by(WebhookDelivery.id)
            )
            return [(a, b, c) for a, b, c in rows]

    def audit_actions(self) -> list[str]:
        with self.app.state.store.read() as s:
            return list(s.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_request(
    event: str, data: Any, secret: str | None, delivery: str | None, raw: bytes | None
) -> tuple[bytes, dict[str, str]]:
    """A GitHub delivery's body and headers, signed with ``secret`` unless it is None."""
    body = raw if raw is not None else json.dumps(data).encode()
    headers = {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery or str(uuid.uuid4()),
    }
    if secret is not None:
        headers["x-hub-signature-256"] = sign(body, secret)
    return body, headers


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return data


def push(sha: str, ref: str = "refs/heads/main") -> dict[str, Any]:
    data = payload("push")
    data["ref"], data["after"] = ref, sha
    data["head_commit"]["id"] = sha
    return data


def status(sha: str, context: str, state: str = "success", branch: str = "main") -> dict[str, Any]:
    data = payload("status")
    data["sha"], data["context"], data["state"] = sha, context, state
    data["commit"]["sha"] = sha
    data["branches"][0]["name"] = branch
    return data


def workflow_run(sha: str, name: str, conclusion: str = "success") -> dict[str, Any]:
    data = payload("workflow_run_completed")
    data["repository"]["full_name"] = REPO
    run = data["workflow_run"]
    run["head_sha"], run["name"], run["conclusion"], run["head_branch"] = (
        sha,
        name,
        conclusion,
        "main",
    )
    return data


def is_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert set(err) == ERROR_KEYS and err["code"] == code and err["message"]
    return err


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    repo = DemoRepo.create(tmp_path / "app")
    repo.commit("Initial commit", {"app.py": "print('hello')\n"}, author=DEV)
    settings = parse(
        {
            "app": {
                "name": "monitor",
                "run": "python app.py",
                "repo": "app",
                "source": f"https://github.com/{REPO}",
                "ticket_prefixes": ["MNTOR"],
            },
            "checks": {"unit": "true"},
            "environments": {"stage": {"port": free_port()}},
        },
        root=tmp_path,
    )
    app = create_app(settings)
    app.state.webhook_settings = {
        "monitor": WebhookSettings.from_settings(
            settings, {"SHIPYARD_GITHUB_SECRET": SECRET, "SHIPYARD_BUILD_TOKEN": TOKEN}
        )
    }
    s = Server(repo, settings, app)
    try:
        yield s
    finally:
        s.wait()
        app.state.store.close()


# -- signatures ---------------------------------------------------------------------------------


def test_signature_matches_githubs_documented_example() -> None:
    # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    verify_signature(
        SECRET,
        b"Hello, World!",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    )
    with pytest.raises(Unauthorized):
        verify_signature(SECRET, b"Hello, World?", sign(b"Hello, World!"))


def unauthenticated(source: str, reason: str) -> int:
    """What /metrics reports for refused deliveries nobody authenticated, in this process."""
    return UNAUTHENTICATED.counts().get((source, reason), 0)


@pytest.mark.parametrize(
    ("event", "name"),
    [
        ("ping", "ping"),
        ("push", "push"),
        ("pull_request", "pull_request_closed"),
        ("status", "status"),
        ("check_run", "check_run_completed"),
        ("check_suite", "check_suite_completed"),
        ("workflow_run", "workflow_run_completed"),
        ("create", "create"),
        ("release", "release_published"),
    ],
)
def test_every_event_needs_a_valid_signature(server: Server, event: str, name: str) -> None:
    data = payload(name)
    before = unauthenticated("github", "signature")
    is_error(server.github(event, data, secret=None), 401, "unauthorized")
    is_error(server.github(event, data, secret="not the secret"), 401, "unauthorized")
    body = json.dumps(data).encode()
    tampered = server.post(
        "/webhooks/github",
        body + b" ",
        {"x-github-event": event, "x-github-delivery": "d-1", "x-hub-signature-256": sign(body)},
    )
    is_error(tampered, 401, "unauthorized")
    assert server.builds() == []
    # Counted, not stored: anyone may send them.
    assert server.deliveries() == [] and unauthenticated("github", "signature") == before + 3
    # Signed, every example is answered without an error (200, or 202 for master).
    r = server.github(event, data)
    assert r.status_code in (200, 202), r.text


def test_without_a_configured_secret_everything_is_refused(server: Server) -> None:
    server.configure(github_secret=None)
    err = is_error(server.github("ping", payload("ping")), 401, "unauthorized")
    assert "no GitHub webhook secret" in err["message"]


def test_a_rejected_delivery_does_not_block_its_valid_redelivery(server: Server) -> None:
    data = payload("ping")
    data["repository"]["full_name"] = REPO
    is_error(server.github("ping", data, delivery="abc", secret="old"), 401, "unauthorized")
    r = server.github("ping", data, delivery="abc")
    assert r.status_code == 200 and r.json()["outcome"] == "accepted"


# -- events -------------------------------------------------------------------------------------


def test_ping(server: Server) -> None:
    data = payload("ping")
    data["repository"]["full_name"] = REPO
    r = server.github("ping", data)
    assert r.status_code == 200
    assert r.json() == {"outcome": "accepted", "detail": "pong", "zen": data["zen"]}
    assert server.deliveries() == [("github", "ping", "accepted")]
    assert server.audit_actions()[-1] == "webhook.github.ping"


def test_a_push_to_main_records_and_builds_the_commit(server: Server) -> None:
    sha = server.head()
    r = server.github("push", push(sha), delivery="push-1")
    assert r.status_code == 200, r.text
    assert r.json()["commit"] == sha
    server.wait()
    [build] = server.builds()
    assert (build.sha, build.status) == (sha, "passed")
    assert build.artifact_digest and build.artifact_digest.startswith("sha256:")
    assert server.checks(sha) == {"unit": "passed"}
    assert "webhook.github.push" in server.audit_actions()

    # A redelivery answers 200 and does nothing.
    again = server.github("push", push(sha), delivery="push-1")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert server.deliveries() == [("github", "push", "accepted"), ("github", "push", "duplicate")]
    assert server.audit_actions().count("webhook.github.push") == 1


def test_ingest_waits_for_a_sync_started_elsewhere_in_the_process(server: Server) -> None:
    lock = sync_lock(server.settings)
    with lock:  # as POST /api/v1/sync or the poll schedule would hold it
        assert server.github("push", push(server.head())).status_code == 200
        assert not drain(server.settings, 0)
        assert server.builds() == []
    server.wait()
    assert [b.status for b in server.builds()] == ["passed"]


def test_later_pushes_build_each_new_commit(server: Server) -> None:
    server.github("push", push(server.head()))
    server.wait()
    server.repo.commit("MNTOR-7 Add a page", {"page.txt": "hi\n"}, author=DEV)
    server.repo.commit("Fix the page", {"page.txt": "hello\n"}, author=DEV)
    server.github("push", push(server.head()))
    server.wait()
    builds = server.builds()
    assert [b.status for b in builds] == ["passed"] * 3
    assert builds[1].subject == "MNTOR-7 Add a page"


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("refs/heads/feature", "push to feature, not main"),
        ("refs/tags/v1", "push to tag v1, not main"),
    ],
)
def test_a_push_elsewhere_is_ignored(server: Server, ref: str, reason: str) -> None:
    r = server.github("push", push(server.head(), ref))
    assert r.status_code == 202 and r.json() == {"outcome": "ignored", "detail": reason}
    server.wait()
    assert server.builds() == []
    assert server.deliveries() == [("github", "push", "ignored")]


@pytest.mark.parametrize("event", ["push", "status", "create", "release"])
def test_an_event_about_another_repository_is_ignored(server: Server, event: str) -> None:
    names = {"push": "push", "status": "status", "create": "create", "release": "release_published"}
    data = push(server.head()) if event == "push" else payload(names[event])
    data["repository"]["full_name"] = "someone/else"
    r = server.github(event, data)
    assert r.status_code == 202
    assert r.json()["detail"] == f"event about someone/else, not {REPO}"
    server.wait()
    assert server.builds() == []


def test_a_merged_pull_request_starts_ingest(server: Server) -> None:
    data = payload("pull_request_closed")
    data["pull_request"]["base"]["ref"] = "main"
    r = server.github("pull_request", data)
    assert r.status_code == 200 and r.json()["pr"] == 2
    server.wait()
    assert [b.status for b in server.builds()] == ["passed"]


def test_a_pull_request_closed_unmerged_or_into_another_branch_is_ignored(server: Server) -> None:
    data = payload("pull_request_closed")
    r = server.github("pull_request", data)
    assert r.status_code == 202 and "merged into master, not main" in r.json()["detail"]
    data["pull_request"]["merged"] = False
    assert server.github("pull_request", data).status_code == 202
    server.wait()
    assert server.builds() == []


def test_check_results_become_the_commits_checks(server: Server) -> None:
    sha = server.head()
    assert server.github("status", status(sha, "ci/test")).status_code == 200
    run = payload("check_run_completed")
    run["repository"]["full_name"] = REPO
    run["check_run"]["head_sha"] = sha
    run["check_run"]["check_suite"]["head_branch"] = "main"
    run["check_run"]["conclusion"] = "failure"
    assert server.github("check_run", run).status_code == 200
    suite = payload("check_suite_completed")
    suite["check_suite"]["head_sha"], suite["check_suite"]["head_branch"] = sha, "main"
    assert server.github("check_suite", suite).status_code == 200
    assert server.github("workflow_run", workflow_run(sha, "test")).status_code == 200
    # The commit had no build yet: it was recorded as a pending one, as sync would have.
    [build] = server.builds()
    assert (build.sha, build.status) == (sha, "pending")
    assert server.checks(sha) == {
        "ci/test": "passed",
        "Octocoders-linter": "failed",
        "octocoders-linter": "passed",
        "test": "passed",
    }
    # A re-run reports again: the latest result replaces the earlier one.
    server.github("status", status(sha, "ci/test", "failure"))
    assert server.checks(sha)["ci/test"] == "failed"


def test_a_check_on_an_unknown_commit_off_main_is_ignored(server: Server) -> None:
    r = server.github(
        "status", status("ec26c3e57ca3a959ca5aad62de7213c562f8c821", "ci", branch="x")
    )
    assert r.status_code == 202 and r.json()["detail"] == "no build of ec26c3e on main"
    assert server.builds() == []


def test_a_check_on_main_before_the_repository_has_the_commit(server: Server) -> None:
    unknown = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    # Local checks decide: nothing to build from yet, so no build.
    r = server.github("status", status(unknown, "ci/test"))
    assert r.status_code == 202 and r.json()["detail"] == "no build of ec26c3e on main"
    # External checks decide: a pending build, which waits for the repository.
    server.configure(required_checks=("ci/test",))
    r = server.github("status", status(unknown, "ci/test"))
    assert r.status_code == 200, r.text
    server.wait()
    [build] = [b for b in server.builds() if b.sha == unknown]
    assert (build.status, build.subject) == ("pending", "Initial commit")
    assert server.checks(unknown) == {"ci/test": "passed"}


def test_an_old_commit_of_main_gets_no_build(server: Server) -> None:
    old = server.head()
    server.repo.commit("Second", {"b.txt": "b\n"}, author=DEV)
    server.github("push", push(server.head()))
    server.wait()
    assert [b.sha for b in server.builds()] == [server.head()]  # the first sync's baseline
    r = server.github("status", status(old, "ci/test"))
    assert r.status_code == 202
    assert [b.sha for b in server.builds()] == [server.head()]


def test_create_and_release_are_recorded(server: Server) -> None:
    r = server.github("create", payload("create"))
    assert r.status_code == 200 and r.json()["detail"] == "tag simple-tag created"
    r = server.github("release", payload("release_published"))
    assert r.status_code == 200 and r.json()["detail"] == "release 0.0.1 published"
    assert server.audit_actions()[-2:] == ["webhook.github.create", "webhook.github.release"]


def test_simultaneous_redeliveries_are_accepted_once(server: Server) -> None:
    body = json.dumps(payload("create")).encode()
    headers = {
        "content-type": "application/json",
        "x-github-event": "create",
        "x-github-delivery": "same-id",
        "x-hub-signature-256": sign(body),
    }

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shipyard.test") as c:
            posts = [c.post("/webhooks/github", content=body, headers=headers) for _ in range(6)]
            return list(await asyncio.gather(*posts))

    responses = asyncio.run(go())
    assert [r.status_code for r in responses] == [200] * 6
    assert sorted(r.json()["outcome"] for r in responses) == ["accepted"] + ["duplicate"] * 5
    assert server.audit_actions().count("webhook.github.create") == 1


def test_a_form_encoded_delivery(server: Server) -> None:
    body = urlencode({"payload": json.dumps(payload("create"))}).encode()
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-github-event": "create",
        "x-github-delivery": "form-1",
        "x-hub-signature-256": sign(body),
    }
    r = server.post("/webhooks/github", body, headers)
    assert r.status_code == 200, r.text


# -- external checks decide the build -----------------------------------------------------------


def test_required_external_checks_pass_the_build(server: Server) -> None:
    server.configure(required_checks=("ci/test", "test"))
    sha = server.head()
    server.github("push", push(sha))
    server.wait()
    [build] = server.builds()
    assert build.status == "pending"  # waits for the CI, however green the local checks
    server.github("status", status(sha, "ci/test"))
    server.wait()
    assert server.builds()[0].status == "pending"
    server.github("workflow_run", workflow_run(sha, "test"))
    server.wait()
    [build] = server.builds()
    assert build.status == "passed" and build.artifact_digest
    assert server.checks(sha) == {"ci/test": "passed", "test": "passed", "unit": "passed"}


def test_a_failed_required_check_fails_the_build(server: Server) -> None:
    server.configure(required_checks=("ci/test",))
    sha = server.head()
    server.github("status", status(sha, "ci/test", "failure"))
    server.wait()
    [build] = server.builds()
    assert build.status == "failed" and build.artifact_digest is None
    assert "build.failed" in server.audit_actions()


# -- bodies that are not deliveries -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b'{"ref": "refs/heads/ma', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b'{"ref": 5, "after": []}', "ref: has the wrong type"),
        (
            b'{"ref": "refs/heads/main", "after": "nope", "repository": {"full_name": "a/b"}}',
            "after: is not a commit SHA",
        ),
        (
            b'{"ref": "refs/heads/main", "after": "%s"}' % (b"a" * 40),
            "repository.full_name: is required",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'{"n": ' + b"1" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_a_body_that_cannot_be_read_is_a_400_with_the_reason(
    server: Server, body: bytes, message: str
) -> None:
    err = is_error(server.github("push", None, raw=body), 400, "bad_request")
    assert message in err["message"]
    assert server.deliveries() == [("github", "push", "rejected")]
    # Unsigned, the same body is refused before it is read.
    is_error(server.github("push", None, raw=body, secret=None), 401, "unauthorized")


@pytest.mark.parametrize(
    "event",
    ["delete", "deployment", "package", "pull_request_review", "workflow_dispatch", "issues"],
)
def test_an_event_shipyard_does_not_act_on_is_ignored_not_failed(
    server: Server, event: str
) -> None:
    # GitHub shows a 4xx as a failed delivery; these are no failure, only not ours.
    r = server.github(event, {"action": "opened", "repository": {"full_name": REPO}})
    assert r.status_code == 202, r.text
    assert r.json()["outcome"] == "ignored"
    assert f"Shipyard does not act on '{event}' events" in r.json()["detail"]
    assert server.deliveries() == [("github", event, "ignored")] and server.builds() == []


@pytest.mark.parametrize("action", ["requested", "in_progress", "completed"])
def test_a_workflow_run_still_running_is_accepted_as_a_running_check(
    server: Server, action: str
) -> None:
    sha = server.head()
    data = workflow_run(sha, "test")
    data["action"], data["workflow_run"]["conclusion"] = action, None
    r = server.github("workflow_run", data)
    assert r.status_code == 200 and r.json()["outcome"] == "accepted", r.text
    assert server.checks(sha) == {"test": "running"}
    assert server.github("workflow_run", workflow_run(sha, "test")).status_code == 200
    assert server.checks(sha) == {"test": "passed"}


@pytest.mark.parametrize("header", ["x-github-event", "x-github-delivery"])
def test_a_missing_header(server: Server, header: str) -> None:
    body = json.dumps(payload("ping")).encode()
    headers = {
        "x-github-event": "ping",
        "x-github-delivery": "d-2",
        "x-hub-signature-256": sign(body),
    }
    del headers[header]
    is_error(server.post("/webhooks/github", body, headers), 400, "bad_request")


def test_a_huge_body_is_413(server: Server) -> None:
    body = b'{"zen": "' + b"x" * (MAX_BODY + 1) + b'"}'
    is_error(server.github("ping", None, raw=body), 413, "too_large")
    server.configure(max_body=4096)
    is_error(server.github("ping", None, raw=b" " * 4097), 413, "too_large")
    assert server.github("ping", payload("ping")).status_code in (200, 202)


# -- the generic build hook ---------------------------------------------------------------------


def test_build_hook_needs_the_token(server: Server) -> None:
    report = {"commit": server.head(), "checks": []}
    before = unauthenticated("build", "token")
    is_error(server.build_hook(report, token=None), 401, "unauthorized")
    is_error(server.build_hook(report, token="wrong"), 401, "unauthorized")
    server.configure(build_token=None)
    is_error(server.build_hook(report), 401, "unauthorized")
    assert server.deliveries() == [] and unauthenticated("build", "token") == before + 3
    from shipyard.services.metrics import render

    metrics = render(server.app.state.store)
    assert (
        f'shipyard_webhook_unauthenticated_total{{source="build",reason="token"}} {before + 3}'
        in (metrics)
    )


def test_build_hook_records_checks_and_is_idempotent(server: Server) -> None:
    sha = server.head()
    report = {
        "commit": sha[:10],
        "checks": [
            {"name": "ci/test", "status": "passed", "log": "ok"},
            {"name": "lint", "status": "failed"},
        ],
        "artifact": "registry.example.com/monitor@sha256:" + "a" * 64,
    }
    r = server.build_hook(report)
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"ci/test": "passed", "lint": "failed"}
    assert server.checks(sha) == {"ci/test": "passed", "lint": "failed"}
    again = server.build_hook(report)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    keyed = server.build_hook(report, **{"idempotency-key": "run-42"})
    assert keyed.json()["outcome"] == "accepted"
    assert server.build_hook(report, **{"idempotency-key": "run-42"}).json()["duplicate"] is True


def test_build_hook_can_pass_a_build_with_required_checks(server: Server) -> None:
    server.configure(required_checks=("ci/test",))
    sha = server.head()
    r = server.build_hook({"commit": sha, "checks": [{"name": "ci/test", "status": "passed"}]})
    assert r.status_code == 200
    server.wait()
    [build] = server.builds()
    assert build.status == "passed" and build.artifact_digest


def test_build_hook_for_an_unknown_commit_is_ignored(server: Server) -> None:
    r = server.build_hook({"commit": "abcdef1234567", "checks": []})
    assert r.status_code == 202 and r.json()["detail"] == "no build of abcdef1234567 on main"


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ([], "must be a JSON object"),
        ({"checks": []}, "commit: must be a commit SHA"),
        ({"commit": "xyz", "checks": []}, "commit: must be a commit SHA"),
        ({"commit": "abcdef1", "checks": {}}, "checks: must be a list"),
        ({"commit": "abcdef1", "checks": ["x"]}, "checks -> 0: must be an object"),
        ({"commit": "abcdef1", "checks": [{"name": "a", "status": "ok"}]}, "checks -> 0 -> status"),
        (
            {"commit": "abcdef1", "checks": [{"name": "", "status": "passed"}]},
            "checks -> 0 -> name",
        ),
        ({"commit": "abcdef1", "checks": [{"name": "a", "status": "passed", "log": 1}]}, "log"),
        ({"commit": "abcdef1", "checks": [], "artifact": 5}, "artifact: must be a reference"),
        ({"commit": "abcdef1", "checks": [], "extra": 1}, "extra: is not a known field"),
    ],
)
def test_build_hook_bad_reports(server: Server, report: Any, message: str) -> None:
    err = is_error(server.build_hook(report), 400, "bad_request")
    assert message in err["message"]


def test_build_hook_garbage_body(server: Server) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    for body in (b"\x00\xff", b'{"commit": ', b"[" * 50_000):
        is_error(server.post("/webhooks/build", body, headers), 400, "bad_request")


# -- one ingest per app at a time ---------------------------------------------------------------


def test_ingest_runs_one_at_a_time_and_again_after_a_request_meanwhile() -> None:
    runner = IngestRunner()
    started, release = threading.Event(), threading.Event()
    running, overlaps, runs = [0], [0], [0]
    lock = threading.Lock()

    def job() -> None:
        with lock:
            running[0] += 1
            runs[0] += 1
            overlaps[0] = max(overlaps[0], running[0])
        started.set()
        release.wait(WAIT)
        with lock:
            running[0] -= 1

    runner.request("app", job)
    assert started.wait(WAIT)
    runner.request("app", job)  # while the first runs: one more run afterwards
    runner.request("app", job)  # coalesced with the one before
    assert not runner.wait_idle("app", 0)
    release.set()
    assert runner.wait_idle("app", WAIT)
    assert (runs[0], overlaps[0]) == (2, 1)
    assert runner.wait_idle("never-requested", 0)


def test_a_failing_ingest_is_logged_and_the_runner_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = IngestRunner()

    def boom() -> None:
        raise RuntimeError("git exploded")

    runner.request("app", boom)
    assert runner.wait_idle("app", WAIT)
    assert "ingest of app failed" in caplog.text
    done = threading.Event()
    runner.request("app", done.set)
    assert done.wait(WAIT)
