"""A GitOps environment's health for views: Argo CD's application (the double, checked
against Argo CD's published description) and the app's ``url`` on loopback; never
"stopped", and a reason whenever it is not healthy."""

from __future__ import annotations

from pathlib import Path

from argocd.double import ArgoDouble
from gitops.app import version_app
from gitops.manifests import IMAGE

from conftest import free_port
from shipyard.adapters.runtime.gitops import GitOpsRuntime
from shipyard.config.gitops import ArgoCDConfig, GitOpsConfig
from shipyard.config.schema import SecretRef
from shipyard.config.sections import EnvironmentConfig

SHA = "c0ffee" + "1" * 34
OTHER = "badbad" + "2" * 34
TOKEN = "t0ken-never-shown"


def runtime(
    tmp: Path,
    *,
    url: str | None = None,
    argo: ArgoDouble | None = None,
    secrets: dict[str, str] | None = None,
) -> GitOpsRuntime:
    gitops = GitOpsConfig(repo=str(tmp / "deploy.git"), path="k8s/prod", image=IMAGE)
    argocd = (
        ArgoCDConfig(server=argo.url, application="web-prod", token=SecretRef("ARGOCD_TOKEN"))
        if argo
        else None
    )
    env = EnvironmentConfig(port=0, runtime="gitops", gitops=gitops, url=url, argocd=argocd)
    return GitOpsRuntime(
        "prod",
        env,
        state_dir=tmp / "state",
        secrets={"ARGOCD_TOKEN": TOKEN} if secrets is None else secrets,
    )


def test_the_url_serving_the_deployed_commit_is_healthy(tmp_path: Path) -> None:
    with version_app(SHA) as app:
        h = runtime(tmp_path, url=app.url).health(SHA)
    assert (h.state, h.detail) == ("healthy", f"{app.url} serves c0ffee1")


def test_another_commit_on_the_url_is_unhealthy_and_says_which(tmp_path: Path) -> None:
    with version_app(OTHER) as app:
        h = runtime(tmp_path, url=app.url).health(SHA)
    assert h.state == "unhealthy"
    assert h.detail == f'{app.url}/__version__ reports "badbad2222222222222, not c0ffee1'


def test_a_failing_health_path_is_unhealthy(tmp_path: Path) -> None:
    with version_app(SHA, health_status=503) as app:
        h = runtime(tmp_path, url=app.url).health(SHA)
        nothing_recorded = runtime(tmp_path, url=app.url).health(None)
    assert (h.state, h.detail) == ("unhealthy", f"{app.url}/__heartbeat__ answers HTTP 503")
    assert nothing_recorded.state == "unhealthy"
    assert nothing_recorded.detail == f"{app.url}/__heartbeat__ answers HTTP 503"


def test_an_unreachable_url_is_unhealthy_never_stopped(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    h = runtime(tmp_path, url=url).health(SHA)
    assert (h.state, h.detail) == ("unhealthy", f"{url}/__version__ did not answer (ConnectError)")


def test_argo_cd_healthy_and_the_url_both_count(tmp_path: Path) -> None:
    with ArgoDouble("web-prod", token=TOKEN) as argo, version_app(SHA) as app:
        h = runtime(tmp_path, url=app.url, argo=argo).health(SHA)
        assert argo.violations == []
        assert [(m, p) for m, p, _ in argo.requests] == [
            ("GET", "/api/v1/applications/web-prod")  # a look, not a refresh or a sync
        ]
    assert h.state == "healthy"
    assert h.detail.startswith("Argo CD: sync Synced, health Healthy")
    assert h.detail.endswith(f"; {app.url} serves c0ffee1")


def test_a_degraded_application_is_unhealthy_with_argo_cds_words(tmp_path: Path) -> None:
    with ArgoDouble("web-prod", behaviour="degraded", token=TOKEN) as argo:
        argo.target, argo.reads_since_sync = SHA, 5  # it synced SHA, and it degraded
        h = runtime(tmp_path, argo=argo).health(SHA)
        assert argo.violations == []
    assert h.state == "unhealthy"
    assert "health Degraded" in h.detail
    assert "exceeded its progress deadline" in h.detail


def test_argo_cd_unreachable_or_without_token_is_unhealthy_and_keeps_the_secret(
    tmp_path: Path,
) -> None:
    with ArgoDouble("web-prod", token=TOKEN) as argo:
        no_token = runtime(tmp_path, argo=argo, secrets={}).health(SHA)
        wrong = runtime(tmp_path, argo=argo, secrets={"ARGOCD_TOKEN": "nope"}).health(SHA)
        url = argo.url
    gone = runtime(tmp_path, argo=argo).health(SHA)  # the double has stopped
    assert no_token.state == wrong.state == gone.state == "unhealthy"
    assert no_token.detail == "environments -> prod -> argocd -> token: $ARGOCD_TOKEN is not set"
    assert wrong.detail == f"Argo CD at {url} refused the token (HTTP 401)"
    assert gone.detail == f"Argo CD at {url} did not answer: ConnectError"
    assert all(TOKEN not in h.detail for h in (no_token, wrong, gone))


def test_with_nothing_to_ask_the_health_is_unknown(tmp_path: Path) -> None:
    h = runtime(tmp_path).health(SHA)
    assert (h.state, h.detail) == (
        "unknown",
        "nothing to ask: set the environment's url or [argocd]",
    )
