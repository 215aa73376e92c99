"""POST /webhooks/github and /webhooks/build on a server of several apps, each its own
real repository, over one SQLite database; payloads are GitHub's own examples."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from test_webhooks import github_request, payload, sign

from conftest import asgi_post, free_port
from shipyard.config import Settings, parse
from shipyard.demo.repo import DemoRepo
from shipyard.services import metrics
from shipyard.services.webhooks.deliveries import WebhookSettings
from shipyard.services.webhooks.ingest import drain, sync_lock
from shipyard.store.models import App, AuditEvent, Build, Check, WebhookDelivery
from shipyard.web.app import create_app

DEV = ("Bo Dev", "bo@example.com")
ERROR_KEYS = {"code", "message", "details"}
WAIT = 60.0  # an upper bound for background ingest, never an expectation
MONITOR, BILLING, WORKER = "monitor", "billing", "billing-worker"
REPOS = {MONITOR: "Codertocat/Hello-World", BILLING: "octo-org/billing"}


def is_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert set(err) == ERROR_KEYS and err["code"] == code and err["message"]
    return err


@dataclass
class AppSpec:
    name: str
    repository: str | None
    secret: str | None
    token: str | None


@dataclass
class Fleet:
    apps: dict[str, AppSpec]
    repos: dict[str, DemoRepo]
    settings: dict[str, Settings]
    app: FastAPI

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        response: httpx.Response = asgi_post(self.app, path, body, headers)
        return response

    def github(
        self,
        event: str,
        data: Any,
        *,
        secret: str | None,
        delivery: str | None = None,
        raw: bytes | None = None,
    ) -> httpx.Response:
        return self.post("/webhooks/github", *github_request(event, data, secret, delivery, raw))

    def build_hook(
        self, data: Any, *, token: str | None, raw: bytes | None = None, key: str | None = None
    ) -> httpx.Response:
        h = {"content-type": "application/json"}
        if key is not None:
            h["idempotency-key"] = key
        if token is not None:
            h["authorization"] = f"Bearer {token}"
        body = raw if raw is not None else json.dumps(data).encode()
        return self.post("/webhooks/build", body, h)

    def wait(self) -> None:
        for name, settings in self.settings.items():
            assert drain(settings, WAIT), f"ingest of {name} did not finish"

    def head(self, app: str) -> str:
        return self.repos[app].git("rev-parse", "HEAD").strip()

    def builds(self, app: str) -> list[tuple[str, str]]:
        with self.app.state.store.read() as s:
            rows = s.execute(
                select(Build.sha, Build.status).join(App).where(App.name == app).order_by(Build.id)
            )
            return [(sha, st) for sha, st in rows]

    def checks(self, app: str) -> dict[str, str]:
        with self.app.state.store.read() as s:
            rows = s.execute(
                select(Check.name, Check.status)
                .join(Build, Check.build_id == Build.id)
                .join(App, Build.app_id == App.id)
                .where(App.name == app)
            )
            return {name: st for name, st in rows}

    def deliveries(self) -> list[tuple[str, str, str]]:
        """(app, delivery id, outcome) of every recorded delivery, oldest first."""
        with self.app.state.store.read() as s:
            rows = s.execute(
                select(
                    WebhookDelivery.app, WebhookDelivery.delivery_id, WebhookDelivery.outcome
                ).order_by(WebhookDelivery.id)
            )
            return [(a, d, o) for a, d, o in rows]

    def webhook_audit(self) -> list[tuple[str, str]]:
        with self.app.state.store.read() as s:
            rows = s.execute(
                select(AuditEvent.app, AuditEvent.action)
                .where(AuditEvent.action.like("webhook.%"))
                .order_by(AuditEvent.id)
            )
            return [(a, b) for a, b in rows]


MakeFleet = Callable[..., Fleet]


@pytest.fixture
def make_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeFleet]:
    """A server of the given apps (the first is its own), each its own git repository."""
    made: list[Fleet] = []

    def make(*specs: AppSpec) -> Fleet:
        database = f"sqlite:///{tmp_path / 'shipyard.db'}"
        repos, settings = {}, {}
        for spec in specs:
            root = tmp_path / spec.name
            repo = DemoRepo.create(root / "app")
            # Distinct contents: DemoRepo's clock is deterministic, so equal trees share a SHA.
            repo.commit("Initial commit", {"app.py": f"print({spec.name!r})\n"}, author=DEV)
            env_prefix = spec.name.upper().replace("-", "_")
            hooks_cfg: dict[str, Any] = {
                "github_secret": {"env": f"{env_prefix}_GH_SECRET"},
                "build_token": {"env": f"{env_prefix}_BUILD_TOKEN"},
            }
            if spec.repository:
                hooks_cfg["repository"] = spec.repository
            for var, value in (("GH_SECRET", spec.secret), ("BUILD_TOKEN", spec.token)):
                if value is None:
                    monkeypatch.delenv(f"{env_prefix}_{var}", raising=False)
                else:
                    monkeypatch.setenv(f"{env_prefix}_{var}", value)
            repos[spec.name] = repo
            settings[spec.name] = parse(
                {
                    "app": {"name": spec.name, "run": "python app.py", "repo": "app"},
                    "checks": {"unit": "true"},
                    "environments": {"stage": {"port": free_port()}},
                    "state": {"database_url": database},
                    "webhooks": hooks_cfg,
                },
                root=root,
            )
        served = list(settings.values())
        app = create_app(served[0], apps=served)
        fleet = Fleet({s.name: s for s in specs}, repos, settings, app)
        made.append(fleet)
        return fleet

    try:
        yield make
    finally:
        for fleet in made:
            fleet.wait()
            fleet.app.state.store.close()


def spec(name: str, secret: str | None = None, repository: str | None = "") -> AppSpec:
    repo = REPOS.get(name) if repository == "" else repository
    return AppSpec(name, repo, secret or f"{name}-secret", f"{name}-token")


@pytest.fixture
def fleet(make_fleet: MakeFleet) -> Fleet:
    """monitor (the server's own), billing on its own repository, and an app with none."""
    return make_fleet(spec(MONITOR), spec(BILLING), spec(WORKER, repository=None))


def push(sha: str, repository: str) -> dict[str, Any]:
    data = payload("push")
    data["ref"], data["after"] = "refs/heads/main", sha
    data["head_commit"]["id"] = sha
    data["repository"]["full_name"] = repository
    return data


# -- GitHub: one delivery, the app of its repository -----------------------------------------


def test_a_signed_push_for_bs_repository_syncs_b_and_not_a(fleet: Fleet) -> None:
    sha = fleet.head(BILLING)
    # GitHub's names are case-insensitive: "Octo-Org/Billing" is octo-org/billing.
    r = fleet.github("push", push(sha, "Octo-Org/Billing"), secret="billing-secret", delivery="p-1")
    assert r.status_code == 200, r.text
    assert r.json()["app"] == BILLING and r.json()["commit"] == sha
    fleet.wait()
    assert fleet.builds(BILLING) == [(sha, "passed")]
    assert fleet.builds(MONITOR) == [] and fleet.builds(WORKER) == []
    assert fleet.webhook_audit() == [(BILLING, "webhook.github.push")]
    # Recorded for billing, under the bare delivery id.
    assert fleet.deliveries() == [(BILLING, "p-1", "accepted")]
    again = fleet.github("push", push(sha, REPOS[BILLING]), secret="billing-secret", delivery="p-1")
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_the_servers_own_app_still_gets_its_pushes(fleet: Fleet) -> None:
    sha = fleet.head(MONITOR)
    r = fleet.github("push", push(sha, REPOS[MONITOR]), secret="monitor-secret", delivery="m-1")
    assert r.status_code == 200 and r.json()["app"] == MONITOR
    fleet.wait()
    assert fleet.builds(MONITOR) == [(sha, "passed")] and fleet.builds(BILLING) == []
    assert fleet.deliveries() == [(MONITOR, "m-1", "accepted")]


def test_a_delivery_recorded_before_apps_were_is_the_servers_own(fleet: Fleet) -> None:
    # Rows a one-app server recorded before deliveries named their app have app "".
    with fleet.app.state.store.write() as s:
        for delivery in ("old-1", "old-2"):
            s.add(
                WebhookDelivery(
                    source="github",
                    delivery_id=delivery,
                    event="push",
                    outcome="accepted",
                    received_at=datetime.now(UTC),
                )
            )
    mine = fleet.github(
        "push", push(fleet.head(MONITOR), REPOS[MONITOR]), secret="monitor-secret", delivery="old-1"
    )
    assert mine.status_code == 200 and mine.json()["duplicate"] is True
    assert mine.json()["app"] == MONITOR
    theirs = fleet.github(
        "push", push(fleet.head(BILLING), REPOS[BILLING]), secret="billing-secret", delivery="old-2"
    )
    assert theirs.status_code == 200 and theirs.json()["outcome"] == "accepted", theirs.text
    fleet.wait()
    assert fleet.builds(MONITOR) == [] and fleet.builds(BILLING) == [
        (fleet.head(BILLING), "passed")
    ]
    assert [(a, o) for a, _, o in fleet.deliveries()][2:] == [
        (MONITOR, "duplicate"),
        (BILLING, "accepted"),
    ]


def test_metrics_count_deliveries_per_app(fleet: Fleet) -> None:
    sha = fleet.head(BILLING)
    fleet.github("push", push(sha, REPOS[BILLING]), secret="billing-secret", delivery="p-1")
    fleet.github("push", push(sha, REPOS[BILLING]), secret="billing-secret", delivery="p-1")
    fleet.github("push", push(sha, "someone/else"), secret="monitor-secret", delivery="u-1")
    fleet.wait()
    text = metrics.render(fleet.app.state.store)
    assert (
        'shipyard_webhook_deliveries_total{app="billing",source="github",result="accepted"} 1'
        in (text)
    )
    assert (
        'shipyard_webhook_deliveries_total{app="billing",source="github",result="duplicate"} 1'
        in text
    )
    # A delivery for no app has no app label.
    assert 'shipyard_webhook_deliveries_total{source="github",result="ignored"} 1' in text


def test_another_apps_secret_is_401(fleet: Fleet) -> None:
    data = push(fleet.head(BILLING), REPOS[BILLING])
    err = is_error(fleet.github("push", data, secret="monitor-secret"), 401, "unauthorized")
    assert err["message"] == ("not signed with the secret of an app that follows octo-org/billing")
    for secret in ("billing-worker-secret", "nobody's", None):
        is_error(fleet.github("push", data, secret=secret), 401, "unauthorized")
    fleet.wait()
    assert fleet.builds(BILLING) == [] and fleet.builds(MONITOR) == []
    assert {o for *_, o in fleet.deliveries()} == {"rejected"}
    assert fleet.webhook_audit() == []


def test_an_unknown_repository_is_202_and_nothing_is_done(fleet: Fleet) -> None:
    data = push(fleet.head(MONITOR), "someone/else")
    r = fleet.github("push", data, secret="monitor-secret", delivery="u-1")
    assert r.status_code == 202
    assert r.json() == {
        "outcome": "ignored",
        "detail": "event about someone/else, which no app served here follows",
    }
    # Signed by an app without a repository: with several apps served, it follows none.
    assert fleet.github("push", data, secret="billing-worker-secret").status_code == 202
    # Unsigned (or signed by a stranger), it is refused like any other delivery.
    is_error(fleet.github("push", data, secret=None), 401, "unauthorized")
    is_error(fleet.github("push", data, secret="stranger"), 401, "unauthorized")
    fleet.wait()
    assert all(fleet.builds(app) == [] for app in (MONITOR, BILLING, WORKER))
    assert fleet.webhook_audit() == []
    # They belong to no app: recorded with app ""; the unsigned ones are only counted.
    assert [(a, o) for a, _, o in fleet.deliveries()] == [("", "ignored"), ("", "ignored")]


def test_an_app_without_a_repository_takes_any_when_it_is_the_only_one(
    make_fleet: MakeFleet,
) -> None:
    alone = make_fleet(spec(WORKER, repository=None))
    sha = alone.head(WORKER)
    r = alone.github("push", push(sha, "someone/else"), secret="billing-worker-secret")
    assert r.status_code == 200 and "app" not in r.json()  # one app: the answer as ever
    alone.wait()
    assert alone.builds(WORKER) == [(sha, "passed")]


def test_a_delivery_without_a_repository_is_routed_nowhere(fleet: Fleet) -> None:
    ping = payload("ping")  # an organization hook's ping names no repository
    del ping["repository"]
    r = fleet.github("ping", ping, secret="billing-secret")
    assert r.status_code == 202 and r.json()["detail"] == "the delivery names no repository"
    # A push needs one: the body is read and refused with the reason.
    data = push(fleet.head(BILLING), REPOS[BILLING])
    del data["repository"]
    err = is_error(fleet.github("push", data, secret="billing-secret"), 400, "bad_request")
    assert "repository.full_name: is required" in err["message"]


def test_check_results_go_to_the_app_of_their_repository(fleet: Fleet) -> None:
    sha = fleet.head(BILLING)
    data = payload("status")
    data["sha"], data["context"], data["commit"]["sha"] = sha, "ci/test", sha
    data["branches"][0]["name"] = "main"
    data["repository"]["full_name"] = REPOS[BILLING]
    assert fleet.github("status", data, secret="billing-secret").status_code == 200
    fleet.wait()
    assert fleet.checks(BILLING) == {"ci/test": "passed"}
    assert fleet.checks(MONITOR) == {}


def test_ingest_of_one_app_does_not_wait_for_anothers_sync_lock(fleet: Fleet) -> None:
    with sync_lock(fleet.settings[MONITOR]):  # as monitor's POST /api/v1/sync would
        sha = fleet.head(BILLING)
        assert fleet.github("push", push(sha, REPOS[BILLING]), secret="billing-secret").is_success
        assert drain(fleet.settings[BILLING], WAIT)
        assert fleet.builds(BILLING) == [(sha, "passed")]
        assert fleet.github(
            "push", push(fleet.head(MONITOR), REPOS[MONITOR]), secret="monitor-secret"
        ).is_success
        assert not drain(fleet.settings[MONITOR], 0)
    assert drain(fleet.settings[MONITOR], WAIT)
    assert [st for _, st in fleet.builds(MONITOR)] == ["passed"]


# -- GitHub: a monorepo, several apps on one repository ---------------------------------------


@pytest.fixture
def monorepo(make_fleet: MakeFleet) -> Fleet:
    return make_fleet(
        spec(MONITOR),
        spec(BILLING, secret="billing-secret", repository="octo-org/mono"),
        spec(WORKER, secret="worker-secret", repository="Octo-Org/Mono"),
    )


def test_apps_on_one_repository_each_get_what_their_secret_signed(monorepo: Fleet) -> None:
    data = push(monorepo.head(BILLING), "octo-org/mono")
    r = monorepo.github("push", data, secret="billing-secret", delivery="d-1")
    assert r.status_code == 200 and r.json()["app"] == BILLING
    # The same delivery id signed with the worker's secret is new to the worker.
    data = push(monorepo.head(WORKER), "octo-org/mono")
    r = monorepo.github("push", data, secret="worker-secret", delivery="d-1")
    assert r.status_code == 200 and r.json()["outcome"] == "accepted", r.text
    assert r.json()["app"] == WORKER
    monorepo.wait()
    assert monorepo.builds(BILLING) == [(monorepo.head(BILLING), "passed")]
    assert monorepo.builds(WORKER) == [(monorepo.head(WORKER), "passed")]
    assert monorepo.builds(MONITOR) == []
    # Each one's redelivery is a duplicate for that app only.
    r = monorepo.github("push", data, secret="worker-secret", delivery="d-1")
    assert r.json()["duplicate"] is True and r.json()["app"] == WORKER
    assert [(a, o) for a, _, o in monorepo.deliveries()] == [
        (BILLING, "accepted"),
        (WORKER, "accepted"),
        (WORKER, "duplicate"),
    ]
    assert [d for a, d, o in monorepo.deliveries() if o == "accepted"] == ["d-1", "d-1"]


def test_one_secret_for_a_monorepo_delivers_to_every_app(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(
        spec(MONITOR),
        spec(BILLING, secret="shared", repository="octo-org/mono"),
        spec(WORKER, secret="shared", repository="octo-org/mono"),
    )
    create = payload("create")
    create["repository"]["full_name"] = "octo-org/mono"
    r = fleet.github("create", create, secret="shared", delivery="c-1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "accepted" and set(body["apps"]) == {BILLING, WORKER}
    assert body["apps"][WORKER]["detail"] == "tag simple-tag created"
    again = fleet.github("create", create, secret="shared", delivery="c-1")
    assert again.json()["outcome"] == "duplicate" and again.json()["duplicate"] is True
    assert sorted(fleet.webhook_audit()) == [
        (BILLING, "webhook.github.create"),
        (WORKER, "webhook.github.create"),
    ]
    is_error(fleet.github("create", create, secret="monitor-secret"), 401, "unauthorized")


# -- the build hook ---------------------------------------------------------------------------


def test_build_hook_goes_to_the_app_it_names(fleet: Fleet) -> None:
    sha = fleet.head(BILLING)
    report = {"app": BILLING, "commit": sha, "checks": [{"name": "ci/test", "status": "passed"}]}
    r = fleet.build_hook(report, token="billing-token", key="run-1")
    assert r.status_code == 200, r.text
    assert r.json()["app"] == BILLING and r.json()["checks"] == {"ci/test": "passed"}
    assert fleet.checks(BILLING) == {"ci/test": "passed"} and fleet.checks(MONITOR) == {}
    again = fleet.build_hook(report, token="billing-token", key="run-1")
    assert again.json()["duplicate"] is True
    # The same key for the server's own app is another delivery.
    mine = {"app": MONITOR, "commit": fleet.head(MONITOR), "checks": []}
    r = fleet.build_hook(mine, token="monitor-token", key="run-1")
    assert r.json()["outcome"] == "accepted" and r.json()["app"] == MONITOR
    # Billing's commit means nothing to monitor's repository.
    other = {"app": MONITOR, "commit": sha, "checks": []}
    r = fleet.build_hook(other, token="monitor-token")
    assert r.status_code == 202 and r.json()["detail"] == f"no build of {sha} on main"


def test_build_hook_needs_app_when_several_are_served(fleet: Fleet) -> None:
    report = {"commit": fleet.head(BILLING), "checks": []}
    err = is_error(fleet.build_hook(report, token="billing-token"), 400, "bad_request")
    assert err["message"] == (
        "app: is required when the server serves several apps "
        "(one of: monitor, billing, billing-worker)"
    )
    for bad in (5, ["billing"], None):
        r = fleet.build_hook({**report, "app": bad}, token="billing-token")
        is_error(r, 400, "bad_request")
    assert fleet.checks(BILLING) == {}


def test_build_hook_unknown_app_is_404(fleet: Fleet) -> None:
    report = {"app": "payroll", "commit": fleet.head(BILLING), "checks": []}
    err = is_error(fleet.build_hook(report, token="billing-token"), 404, "not_found")
    assert "payroll" in err["message"]
    # Without a token that some app accepts, nothing is said about which apps exist.
    is_error(fleet.build_hook(report, token="guess"), 401, "unauthorized")


def test_build_hook_needs_that_apps_token(fleet: Fleet) -> None:
    report = {"app": BILLING, "commit": fleet.head(BILLING), "checks": []}
    is_error(fleet.build_hook(report, token="monitor-token"), 401, "unauthorized")
    is_error(fleet.build_hook(report, token=None), 401, "unauthorized")
    is_error(fleet.build_hook(report, token="billing-secret"), 401, "unauthorized")
    assert fleet.checks(BILLING) == {}
    assert {o for *_, o in fleet.deliveries()} == {"rejected"}


# -- bodies that are not deliveries never make a 500 ------------------------------------------


def _garbage() -> list[bytes]:
    real = json.dumps(push("a" * 40, REPOS[BILLING])).encode()
    cuts = [real[:n] for n in (0, 1, 20, len(real) // 2, len(real) - 1)]
    return [
        *cuts,
        b"\xff\xfe\x00garbage",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"repository": ' * 5000,
        b'{"n": ' + b"1" * 5000 + b"}",
        b'{"repository": []}',
        b'{"repository": {"full_name": 5}}',
        b'{"repository": {"full_name": null}}',
        b'{"repository": {"full_name": "' + b"x/" * 20_000 + b'"}}',
        b'{"repository": {"full_name": "octo-org/billing"}, "ref": ["main"]}',
        json.dumps({**push("a" * 40, REPOS[BILLING]), "after": {"sha": 1}}).encode(),
        b"payload=%7B%22repository",
    ]


@pytest.mark.parametrize("body", _garbage(), ids=range(len(_garbage())))
def test_a_garbage_github_body_is_never_a_500(fleet: Fleet, body: bytes) -> None:
    for secret in ("billing-secret", "monitor-secret", "stranger", None):
        for ctype in ("application/json", "application/x-www-form-urlencoded"):
            headers = {
                "content-type": ctype,
                "x-github-event": "push",
                "x-github-delivery": str(uuid.uuid4()),
            }
            if secret:
                headers["x-hub-signature-256"] = sign(body, secret)
            r = fleet.post("/webhooks/github", body, headers)
            assert r.status_code in (202, 400, 401), (secret, ctype, r.text)
            if r.status_code != 202:
                assert set(r.json()["error"]) == ERROR_KEYS
            if secret in (None, "stranger"):
                assert r.status_code == 401
    fleet.wait()
    assert all(fleet.builds(app) == [] for app in (MONITOR, BILLING, WORKER))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\xff",
        b'{"app": "billing", "commit": ',
        b"[" * 50_000,
        b'{"app": {"name": "billing"}, "commit": "abcdef1", "checks": []}',
        b'{"app": "billing", "commit": "abcdef1", "checks": [1]}',
        b'{"app": "' + b"b" * 100_000 + b'", "commit": "abcdef1", "checks": []}',
    ],
)
def test_a_garbage_build_body_is_never_a_500(fleet: Fleet, body: bytes) -> None:
    r = fleet.build_hook(None, token="billing-token", raw=body)
    assert r.status_code in (400, 404), r.text
    assert set(r.json()["error"]) == ERROR_KEYS


def test_each_apps_body_limit(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(spec(MONITOR), spec(BILLING))
    data = push(fleet.head(BILLING), REPOS[BILLING])
    # app.state.webhook_settings overrides an app's [webhooks]; the others come from config.
    fleet.app.state.webhook_settings = {
        BILLING: WebhookSettings(
            github_secret="billing-secret",
            repository=REPOS[BILLING],
            max_body=len(json.dumps(data)) + 100,
        )
    }
    # Over billing's limit, under monitor's (which bounds what is read at all).
    is_error(
        fleet.github("push", {**data, "pad": "x" * 200}, secret="billing-secret"), 413, "too_large"
    )
    assert fleet.github("push", data, secret="billing-secret").status_code == 200
    fleet.wait()
    assert [st for _, st in fleet.builds(BILLING)] == ["passed"]


def test_concurrent_deliveries_to_two_apps_are_each_accepted_once(monorepo: Fleet) -> None:
    create = payload("create")
    create["repository"]["full_name"] = "octo-org/mono"
    body = json.dumps(create).encode()

    def headers(secret: str) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "x-github-event": "create",
            "x-github-delivery": "same-id",
            "x-hub-signature-256": sign(body, secret),
        }

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=monorepo.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shipyard.test") as c:
            posts = [
                c.post("/webhooks/github", content=body, headers=headers(secret))
                for secret in ("billing-secret", "worker-secret") * 3
            ]
            return list(await asyncio.gather(*posts))

    responses = asyncio.run(go())
    assert [r.status_code for r in responses] == [200] * 6
    accepted = sorted(r.json()["app"] for r in responses if r.json()["outcome"] == "accepted")
    assert accepted == sorted([BILLING, WORKER])
    assert sorted(monorepo.webhook_audit()) == sorted(
        [(BILLING, "webhook.github.create"), (WORKER, "webhook.github.create")]
    )
