"""The GitOps runtime against a bare manifests remote, a racing writer, the Argo CD double
(checked against Argo CD's published description) and a real app on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from argocd.double import ArgoDouble
from gitops.app import VersionApp, version_app
from gitops.manifests import (
    DIGEST,
    IMAGE,
    KUSTOMIZATION,
    git,
    kustomize_files,
    make_remote,
    other_writer_push,
    remote_file,
)

from shipyard.adapters.runtime.gitops import GitOpsRuntime, Release
from shipyard.adapters.runtime.gitops.repo import ManifestsRepo
from shipyard.config.gitops import ArgoCDConfig, GitOpsConfig
from shipyard.config.schema import SecretRef
from shipyard.config.sections import EnvironmentConfig
from shipyard.errors import DeployFailed

OVERLAY = "k8s/prod/kustomization.yaml"
SHA = "c0ffee" + "1" * 34
TOKEN = "t0ken-never-shown"


@pytest.fixture
def remote(tmp_path: Path) -> tuple[Path, Path]:
    return make_remote(tmp_path, kustomize_files())


def _env(remote: Path, **kw: Any) -> EnvironmentConfig:
    gitops = GitOpsConfig(repo=str(remote), path="k8s/prod", image=IMAGE, rollout_timeout=20.0)
    return EnvironmentConfig(port=0, runtime="gitops", gitops=gitops, **kw)


def _runtime(env: EnvironmentConfig, tmp: Path) -> GitOpsRuntime:
    return GitOpsRuntime(
        "prod", env, state_dir=tmp / "state", secrets={"ARGOCD_TOKEN": TOKEN}, poll=0.05
    )


def _release(**kw: Any) -> Release:
    base = dict(
        tag="prod-2024.09.01",
        digest=DIGEST,
        ref="2024.09.01",
        commit=SHA,
        actor="alice",
        deployment=42,
    )
    return Release(**{**base, **kw})


def _argo(double: ArgoDouble) -> ArgoCDConfig:
    return ArgoCDConfig(server=double.url, application="web-prod", token=SecretRef("ARGOCD_TOKEN"))


@pytest.fixture
def app() -> Iterator[VersionApp]:
    with version_app(SHA) as served:
        yield served


# -- the manifests repository ------------------------------------------------------


def test_a_push_that_lost_the_race_is_rebased_and_pushed(
    remote: tuple[Path, Path], tmp_path: Path
) -> None:
    bare, other = remote
    repo = ManifestsRepo(str(bare), "main", tmp_path / "state")
    raced: list[str] = []

    def apply(checkout: Path) -> bool:
        if not raced:  # the other writer pushes between our read and our push
            raced.append(other_writer_push(other, "k8s/stage/note.txt", "stage\n", "Stage change"))
        (checkout / "k8s/prod/extra.txt").write_text("ours\n")
        return True

    with repo.locked():
        repo.sync()
        pushed = repo.change(apply, "prod: ours", attempts=3)
    assert pushed == git(bare, "rev-parse", "main")
    assert git(bare, "rev-parse", "main~1") == raced[0]  # rebased on top of theirs
    assert git(bare, "log", "-1", "--format=%s", "main") == "prod: ours"


def test_a_rebase_conflict_makes_the_change_again_on_the_new_head(
    remote: tuple[Path, Path], tmp_path: Path
) -> None:
    bare, other = remote
    repo = ManifestsRepo(str(bare), "main", tmp_path / "state")
    calls: list[int] = []

    def apply(checkout: Path) -> bool:
        calls.append(1)
        if len(calls) == 1:  # the other writer edits the very same line first
            other_writer_push(other, OVERLAY, KUSTOMIZATION.replace("0000000", "theirs1"), "Theirs")
        path = checkout / OVERLAY
        path.write_text(
            path.read_text()
            .replace('newTag: "0000000"', 'newTag: "ours"')
            .replace("theirs1", "ours")
        )
        return True

    with repo.locked():
        repo.sync()
        repo.change(apply, "prod: ours", attempts=3)
    assert len(calls) == 2
    assert 'newTag: "ours"' in remote_file(bare, OVERLAY)
    assert git(bare, "log", "-1", "--format=%s", "main~1") == "Theirs"


def test_a_remote_that_keeps_moving_fails_after_the_attempts(
    remote: tuple[Path, Path], tmp_path: Path
) -> None:
    bare, other = remote
    repo = ManifestsRepo(str(bare), "main", tmp_path / "state")
    n = [0]

    def apply(checkout: Path) -> bool:
        (checkout / "k8s/prod/extra.txt").write_text("ours\n")
        return True

    def racing_fetch(original: Any) -> Any:
        def fetch() -> None:
            n[0] += 1
            original()
            other_writer_push(other, f"k8s/stage/{n[0]}.txt", "x\n", f"Theirs {n[0]}")

        return fetch

    with repo.locked():
        repo.sync()
        other_writer_push(other, "k8s/stage/0.txt", "x\n", "Theirs 0")
        repo._fetch = racing_fetch(repo._fetch)  # type: ignore[method-assign]
        with pytest.raises(DeployFailed) as err:
            repo.change(apply, "prod: ours", attempts=2)
    assert "it moved under every one of 2 attempts" in err.value.message


# -- deploys -----------------------------------------------------------------------


def test_a_deploy_commits_the_image_and_waits_for_a_healthy_argocd_app(
    remote: tuple[Path, Path], tmp_path: Path, app: VersionApp
) -> None:
    bare, _ = remote
    with ArgoDouble("web-prod", "healthy", token=TOKEN) as argo:
        runtime = _runtime(_env(bare, argocd=_argo(argo), url=app.url), tmp_path)
        said: list[str] = []
        rollout = runtime.deploy(_release(), on_progress=said.append)
    assert argo.violations == []
    assert rollout.revision == git(bare, "rev-parse", "main")
    assert 'newTag: "prod-2024.09.01"' in remote_file(bare, OVERLAY)
    assert f"digest: {DIGEST}" in remote_file(bare, OVERLAY)
    message = git(bare, "log", "-1", "--format=%B", "main")
    assert message.splitlines()[0] == "prod: deploy 2024.09.01 (c0ffee1) by alice, deployment #42"
    assert f"commit: {SHA}" in message and "deployed-by: alice" in message
    methods = [(m, p.split("?")[0], "refresh=normal" in p) for m, p, _ in argo.requests]
    assert methods[:2] == [
        ("GET", "/api/v1/applications/web-prod", True),
        ("POST", "/api/v1/applications/web-prod/sync", False),
    ]
    assert argo.requests[1][2] == {"name": "web-prod", "revision": rollout.revision}
    assert all(TOKEN not in line for line in said)
    assert runtime.current() is not None and runtime.current().tag == "prod-2024.09.01"  # type: ignore[union-attr]


def test_a_degraded_app_fails_the_deploy_and_a_revert_commit_restores_the_overlay(
    remote: tuple[Path, Path], tmp_path: Path
) -> None:
    bare, _ = remote
    with ArgoDouble("web-prod", "degraded", token=TOKEN) as argo:
        runtime = _runtime(_env(bare, argocd=_argo(argo)), tmp_path)
        with pytest.raises(DeployFailed) as err:
            runtime.deploy(_release())
    assert argo.violations == []
    assert err.value.message.startswith("Argo CD reports the application Degraded")
    assert "the overlay was restored by" in err.value.message
    assert remote_file(bare, OVERLAY) == KUSTOMIZATION
    subject = git(bare, "log", "-1", "--format=%s", "main")
    assert subject == "prod: revert deployment #42 of 2024.09.01 (c0ffee1)"
    # Argo CD was asked to take the restored overlay at once.
    assert argo.requests[-1][2] == {"name": "web-prod", "revision": git(bare, "rev-parse", "main")}


def test_an_app_that_never_syncs_times_out_and_leave_keeps_the_commit(
    remote: tuple[Path, Path], tmp_path: Path
) -> None:
    bare, _ = remote
    with ArgoDouble("web-prod", "never", token=TOKEN) as argo:
        env = _env(bare, argocd=_argo(argo), on_failure="leave")
        env = replace(env, gitops=replace(env.gitops, rollout_timeout=0.5))  # type: ignore[type-var]
        with pytest.raises(DeployFailed) as err:
            _runtime(env, tmp_path).deploy(_release())
    assert argo.violations == []
    assert "Argo CD did not deploy" in err.value.message and "in time" in err.value.message
    assert 'newTag: "prod-2024.09.01"' in remote_file(bare, OVERLAY)  # left as it is


def test_a_wrong_token_is_one_line_without_the_token(
    remote: tuple[Path, Path], tmp_path: Path
) -> None:
    bare, _ = remote
    with (
        ArgoDouble("web-prod", "healthy", token="the-real-one") as argo,
        pytest.raises(DeployFailed) as err,
    ):
        _runtime(_env(bare, argocd=_argo(argo)), tmp_path).deploy(_release())
    assert err.value.message.startswith(f"Argo CD at {argo.url} refused the token (HTTP 401)")
    assert TOKEN not in err.value.message


def test_the_url_must_report_the_commit(
    remote: tuple[Path, Path], tmp_path: Path, app: VersionApp
) -> None:
    bare, _ = remote
    env = _env(bare, url=app.url)
    env = replace(env, gitops=replace(env.gitops, rollout_timeout=0.5))  # type: ignore[type-var]
    runtime = _runtime(env, tmp_path)
    runtime.deploy(_release())
    app.commit = "d" * 40  # the app still serves another commit
    with pytest.raises(DeployFailed) as err:
        runtime.deploy(_release(tag="prod-2024.09.02", ref="2024.09.02", deployment=43))
    assert f"{app.url} does not serve c0ffee1 in time: /__version__ reports" in err.value.message
    assert remote_file(bare, OVERLAY).count('newTag: "prod-2024.09.01"') == 1  # reverted


def test_a_restart_bumps_the_pod_template_annotation(
    remote: tuple[Path, Path], tmp_path: Path
) -> None:
    bare, _ = remote
    runtime = _runtime(_env(bare), tmp_path)
    first = runtime.restart(actor="alice").revision
    second = runtime.restart(actor="bob").revision
    assert first != second
    assert "shipyard.dev/restartedAt:" in remote_file(bare, OVERLAY)
    assert git(bare, "log", "-1", "--format=%s", "main") == "prod: restart by bob"


def test_deploying_what_the_overlay_already_names_pushes_nothing(
    remote: tuple[Path, Path], tmp_path: Path
) -> None:
    bare, _ = remote
    runtime = _runtime(_env(bare), tmp_path)
    first = runtime.deploy(_release()).revision
    again = runtime.deploy(_release(deployment=43)).revision
    assert first == again == git(bare, "rev-parse", "main")
