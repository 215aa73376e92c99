"""An app that mixes runtimes: stage and dev on local processes, prod on Kubernetes through
GitOps (a bare manifests remote, and the app's ``url`` played by a loopback app that
reports a commit on ``/__version__``), driven through the real CLI; ``kubectl kustomize``
(installed by scripts/services) renders the overlay.

``up`` and ``down`` leave prod to the cluster with a note, ``logs prod`` says where its
logs live, and ``status`` reads prod's health from its ``url``: "healthy" when it serves
the deployed commit, "unhealthy" with the reason otherwise, never "stopped"; ``restart
prod`` bumps the pod template's annotation by a commit to the overlay.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from adapters.gitops.app import version_app
from adapters.gitops.manifests import git, kustomize_files, make_remote, remote_file
from conftest import SHIPYARD, Project, make_project, running_server, stop_all

pytestmark = pytest.mark.slow

BO = ("Bo Dev", "bo@example.com")
NOTE = "prod is run by Kubernetes from k8s/prod"

GITOPS = """
[environments.prod.gitops]
repo = "{remote}"
path = "k8s/prod"
image = "127.0.0.1:5000/acme/web"
rollout_timeout = 5
"""


def on_gitops(p: Project, remote: Path, url: str) -> None:
    """Move prod from its local port to GitOps, checked by ``url``."""
    toml = p.path / "shipyard.toml"
    text = toml.read_text().replace(
        f"[environments.prod]\nport = {p.ports['prod']}\n",
        f'[environments.prod]\nruntime = "gitops"\nurl = "{url}"\n',
    )
    assert 'runtime = "gitops"' in text
    p.repo.commit(
        "Run prod through GitOps", {"shipyard.toml": text + GITOPS.format(remote=remote)}, author=BO
    )


def rendered_deployment(remote: Path, tmp: Path) -> Any:
    """The Deployment as ``kubectl kustomize`` renders prod's overlay on the remote."""
    checkout = tmp / f"render-{time.monotonic_ns()}"
    git(tmp, "clone", "--quiet", str(remote), str(checkout))
    done = subprocess.run(
        ["kubectl", "kustomize", str(checkout / "k8s" / "prod")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return next(d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] == "Deployment")


def row(status_out: str, env: str) -> str:
    return next(line for line in status_out.splitlines() if line.split()[:1] == [env])


def test_a_gitops_environment_is_left_to_the_cluster_and_checked_through_its_url(
    tmp_path: Path,
) -> None:
    remote, _ = make_remote(tmp_path, kustomize_files())
    p = make_project(tmp_path / "monitor")
    try:
        with version_app("0" * 40) as app:
            on_gitops(p, remote, app.url)
            p.repo.merge_pr(
                11,
                "MNTOR-1-alerts",
                "Add breach alerts (MNTOR-1)",
                [p.features("alerts")],
                author=BO,
            )
            head = p.head()
            p.ok("sync")
            p.ok("prerelease", "--date", "2024-09-01")
            p.ok("qa", "verify", "MNTOR-1", user="qa@example.com")
            app.commit = head  # the cluster rolls the new image out
            r = p.ok("deploy", "prod", "2024.09.01", "--yes")
            assert "prod-2024.09.01" in r.out
            assert 'newTag: "prod-2024.09.01"' in remote_file(remote, "k8s/prod/kustomization.yaml")

            prod = row(p.ok("status").out, "prod")
            assert "healthy" in prod and "unhealthy" not in prod and "stopped" not in prod

            # restart: the overlay's pod template gets a new annotation, by a commit
            before = git(remote, "rev-parse", "main")
            r = p.ok("restart", "prod")
            assert f"prod restarted: 2024.09.01 ({head[:7]})" in r.out
            assert git(remote, "rev-parse", "main~1") == before
            message = git(remote, "log", "-1", "--format=%B")
            assert message.startswith("prod: restart by ana@example.com")
            template = rendered_deployment(remote, tmp_path)["spec"]["template"]
            stamp = template["metadata"]["annotations"]["shipyard.dev/restartedAt"]
            assert f"restarted-at: {stamp}" in message

            app.commit = "f" * 40  # something else took over the cluster
            prod = row(p.ok("status").out, "prod")
            assert "unhealthy" in prod
            assert f'{app.url}/__version__ reports "ffffff' in prod and head[:7] in prod

            app.commit, app.health_status = head, 503
            prod = row(p.ok("status").out, "prod")
            assert f"unhealthy {app.url}/__heartbeat__ answers HTTP 503" in prod

            r = p.ok("up")
            assert f"{NOTE}; nothing to start" in r.out.splitlines()
            assert any(
                line.startswith("stage: ") and "on http://127.0.0.1:" in line
                for line in r.out.splitlines()
            )

            r = p.run("logs", "prod")
            assert r.code == 1 and "Traceback" not in r.err
            assert f"{NOTE}: its instances log in the cluster, not here" in r.err
            assert r.out == ""
            assert p.ok("logs", "stage").err.startswith(f"--- stage: the instance of {head[:12]}")

            # the same through a server: its API, its dashboard's data, the remote CLI
            app.health_status = 200
            with running_server(p.path) as srv:
                assert srv.token is not None
                auth = {"Authorization": f"Bearer {srv.token}"}
                api = f"{srv.url}/api/v1/apps/monitor/environments"
                envs = {e["name"]: e for e in httpx.get(api, headers=auth, timeout=30).json()}
                assert (envs["prod"]["health"], envs["prod"]["port"]) == ("healthy", 0)
                assert envs["prod"]["health_detail"] == f"{app.url} serves {head[:7]}"
                r = httpx.get(f"{api}/prod/log", headers=auth, timeout=30)
                assert r.status_code == 404
                assert r.json()["error"]["message"].startswith(f"{NOTE}: its instances log")
                remote = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
                remote.update(SHIPYARD_URL=srv.url, SHIPYARD_TOKEN=srv.token)
                done = subprocess.run(
                    [SHIPYARD, "logs", "prod"],
                    cwd=tmp_path,
                    env=remote,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                assert done.returncode == 1 and "Traceback" not in done.stderr
                assert f"{NOTE}: its instances log in the cluster" in done.stderr
        url = app.url
        prod = row(p.ok("status").out, "prod")  # the app is gone
        assert f"unhealthy {url}/__version__ did not answer (ConnectError)" in prod

        r = p.ok("down")
        assert f"{NOTE}; nothing to stop" in r.out.splitlines()
        assert "stage: stopped" in r.out.splitlines()
    finally:
        stop_all(p)
