"""The production path end to end: CI images in a real registry, environments through GitOps.

A merge happens; CI reports its checks to a real ``shipyard serve`` (POST /webhooks/build)
and skopeo pushes ``:<sha7>`` to a real docker-registry; stage's overlay gets a commit
and the Argo CD double (validated against Argo CD's published swagger.json, see
tests/adapters/argocd/double.py) goes Healthy; a pre-release is cut and QA verifies;
``deploy prod`` retags ``prod-<date>`` in the registry (same digest, by HEAD) and commits
prod's overlay (``kubectl kustomize`` renders the digest), and prod's ``url`` (a loopback
app) must report the commit on ``/__version__``; a rollback writes the previous image. A
prod deploy whose app keeps reporting the old commit fails, and a revert commit restores
prod's overlay (``on_failure = "revert"``).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from adapters.argocd.double import ArgoDouble
from adapters.gitops.app import VersionApp, version_app
from adapters.gitops.manifests import DEPLOYMENT, IMAGE, git, make_remote, remote_file
from adapters.oci_registry import OCI_INDEX, OCI_MANIFEST, Registry, build_image, need_tools
from conftest import Project, make_project, running_server

pytestmark = pytest.mark.slow

BO = ("Bo Dev", "bo@example.com")
TOKEN = "ci-build-token"
REPOSITORY = "acme/web"

CONFIG = """\
[app]
name = "monitor"
run = "python app.py"
ticket_prefixes = ["MNTOR"]

[artifacts]
kind = "oci"
registry = "{registry}"
repository = "{repository}"
insecure = true

[webhooks]
required_checks = ["ci"]

[schedule]
prerelease = ""     # the test cuts its pre-release itself
poll_interval = 1  # CI pushes after it reports: the next poll finds the image

[environments.stage]
runtime = "gitops"
auto = true
artifact_wait = 60

[environments.stage.gitops]
repo = "{remote}"
path = "k8s/stage"
image = "{image}"
rollout_timeout = 60

[environments.stage.argocd]
server = "{argo}"
application = "monitor-stage"
token = {{ env = "ARGOCD_TOKEN" }}

[environments.prod]
runtime = "gitops"
url = "{prod_url}"
on_failure = "revert"
accepts = '^\\d{{4}}\\.\\d{{2}}\\.\\d{{2}}(\\.\\d+)?$'
tag = "prod-{{ref}}"
after = "stage"
require_qa = true
artifact_wait = 10

[environments.prod.gitops]
repo = "{remote}"
path = "k8s/prod"
image = "{image}"
rollout_timeout = 6
"""


def overlay(env: str) -> str:
    return f"""\
# {env}: Shipyard writes the image below.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: {IMAGE}
    newTag: "0000000"  # written by Shipyard
"""


def rendered_image(remote: Path, tmp: Path, env: str) -> str:
    """The Deployment's image as ``kubectl kustomize`` renders the overlay on the remote."""
    checkout = tmp / f"render-{time.monotonic_ns()}"
    git(tmp, "clone", "--quiet", str(remote), str(checkout))
    done = subprocess.run(
        ["kubectl", "kustomize", str(checkout / "k8s" / env)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    docs = [d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] == "Deployment"]
    return str(docs[0]["spec"]["template"]["spec"]["containers"][0]["image"])


def registry_digest(reg: Registry, tag: str) -> str | None:
    r = httpx.head(
        f"http://{reg.host}/v2/{REPOSITORY}/manifests/{tag}",
        headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"},
        timeout=10,
    )
    return r.headers.get("Docker-Content-Digest") if r.status_code == 200 else None


def wait_for_overlay(remote: Path, env: str, text: str, limit: float = 90.0) -> float:
    """Seconds until the remote's overlay of ``env`` contains ``text`` (bounded)."""
    start = time.monotonic()
    while text not in remote_file(remote, f"k8s/{env}/kustomization.yaml"):
        assert time.monotonic() - start < limit, f"{env}'s overlay never named {text}"
        time.sleep(0.1)
    return time.monotonic() - start


def recorded_digests(p: Project) -> dict[str, str | None]:
    """The digest each environment's newest deployment recorded."""
    from sqlalchemy import select

    from shipyard.config import load
    from shipyard.store.db import open_store
    from shipyard.store.models import Deployment, Environment

    store = open_store(load(p.path / "shipyard.toml").database_url)
    try:
        with store.read() as db:
            rows = db.execute(
                select(Environment.name, Deployment.digest)
                .join(Deployment, Deployment.environment_id == Environment.id)
                .order_by(Deployment.id)
            ).all()
    finally:
        store.close()
    return {name: digest for name, digest in rows}


def ci_reports(url: str, commit: str) -> None:
    r = httpx.post(
        f"{url}/webhooks/build",
        json={"commit": commit, "checks": [{"name": "ci", "status": "passed"}]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert r.status_code in (200, 202), r.text


def setup(tmp: Path, reg: Registry, argo: ArgoDouble, prod: VersionApp) -> tuple[Project, Path]:
    files = {
        "base/deployment.yaml": DEPLOYMENT,
        "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "k8s/stage/kustomization.yaml": overlay("stage"),
        "k8s/prod/kustomization.yaml": overlay("prod"),
    }
    remote, _ = make_remote(tmp, files)
    p = make_project(tmp / "monitor")
    text = CONFIG.format(
        registry=reg.host,
        repository=REPOSITORY,
        remote=remote,
        image=IMAGE,
        argo=argo.url,
        prod_url=prod.url,
    )
    p.repo.commit("Deploy through GitOps", {"shipyard.toml": text}, author=BO)
    return p, remote


def test_production_path(tmp_path: Path) -> None:
    need_tools()
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (scripts/services installs kubernetes-client)")
    with (
        Registry(tmp_path) as reg,
        ArgoDouble("monitor-stage") as argo,
        version_app("0" * 40) as prod_app,
    ):
        env = {"SHIPYARD_BUILD_TOKEN": TOKEN, "ARGOCD_TOKEN": argo.token}
        p, remote = setup(tmp_path, reg, argo, prod_app)
        p.ok("sync", env=env)  # the baseline: main's head, waiting for CI
        # 1. a merge happens
        p.repo.merge_pr(
            11, "MNTOR-1-alerts", "Add breach alerts (MNTOR-1)", [p.features("alerts")], author=BO
        )
        first = p.head()
        # Schedules on: nothing but the poll notices an image pushed after CI's report.
        with running_server(p.path, env=env, schedule=True) as srv:
            # 2. CI reports its checks, then pushes the image (the build waits for it)
            image = build_image(tmp_path / "layout-1", "first")
            ci_reports(srv.url, first)
            reg.push(image.layout, REPOSITORY, first[:7])
            # 3. stage's overlay gets a commit; the Argo CD double goes Healthy
            wait_for_overlay(remote, "stage", f'newTag: "{first[:7]}"')
            deadline = time.monotonic() + 60
            while p.run("status", env=env).out.count(first[:7]) == 0:
                assert time.monotonic() < deadline, "stage's deployment never finished"
                time.sleep(0.2)
            assert argo.violations == []
            assert argo.target is not None and argo.target in git(remote, "log", "--format=%H")
        assert image.digest in rendered_image(remote, tmp_path, "stage")

        # 4. a pre-release is cut, QA verifies
        p.ok("prerelease", "--date", "2024-09-01", env=env)
        p.ok("qa", "verify", "MNTOR-1", user="qa@example.com", env=env)
        # 5. deploy prod: a retag in the registry, a commit to prod's overlay; prod's url
        #    reports the commit once the cluster has rolled it out
        prod_app.commit = first
        r = p.ok("deploy", "prod", "2024.09.01", "--yes", env=env)
        assert "prod-2024.09.01" in r.out
        assert registry_digest(reg, "prod-2024.09.01") == image.digest
        assert image.digest in rendered_image(remote, tmp_path, "prod")
        assert recorded_digests(p)["prod"] == image.digest  # on the deployment

        # 6. a second merge reaches stage; a rollback writes the previous image again
        p.repo.squash_pr(12, "Tidy the footer", p.features("footer"), author=BO)
        second = p.head()
        image2 = build_image(tmp_path / "layout-2", "second")
        reg.push(image2.layout, REPOSITORY, second[:7])
        with running_server(p.path, env=env, first_start=False) as srv:
            ci_reports(srv.url, second)
            wait_for_overlay(remote, "stage", f'newTag: "{second[:7]}"')
            deadline = time.monotonic() + 60
            while second[:7] not in p.run("status", env=env).out:
                assert time.monotonic() < deadline, "stage's second deployment never finished"
                time.sleep(0.2)
        assert image2.digest in rendered_image(remote, tmp_path, "stage")

        # a prod deploy whose rollout never reports its commit fails, and is reverted
        p.ok("prerelease", "--date", "2024-09-02", env=env)
        before = git(remote, "rev-parse", "main")
        r = p.run("deploy", "prod", "2024.09.02", "--yes", env=env)  # prod_app still says first
        assert r.code == 4, r.text
        assert "Traceback" not in r.err and f"not {second[:7]}" in r.text
        assert git(remote, "rev-parse", "main~2") == before  # the deploy, then its revert
        pushed = git(remote, "rev-parse", "main~1")
        log = git(remote, "log", "-1", "--format=%B")
        assert (
            log.startswith("prod: revert deployment #") and f"This reverts commit {pushed}" in log
        )
        assert git(remote, "diff", before, "main") == ""  # the overlay is as it was
        assert image.digest in rendered_image(remote, tmp_path, "prod")
        assert "failed" in p.run("history", "prod", env=env).out

        r = p.ok("rollback", "stage", "--reason", "the footer breaks", "--yes", env=env)
        assert image.digest in rendered_image(remote, tmp_path, "stage")
        log = git(remote, "log", "-1", "--format=%B")
        assert "roll back to" in log and first[:7] in log
        assert argo.violations == []
