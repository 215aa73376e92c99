"""A build is green when its checks pass **and** CI's image exists, against a real registry.

Debian's docker-registry on loopback (tests/adapters/oci_registry.py, the fixtures of
tests/adapters/test_artifacts_oci.py), images pushed by skopeo, environments written
through GitOps into a bare manifests repository. CI reports its checks before the push
lands: the build waits for its image, nothing follows it, and the next poll finds the
image and moves stage without anyone acting. An image never pushed makes a deploy wait
(bounded) and fail with one line. A registry that goes down fails a prod deploy cleanly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.gitops.manifests import DEPLOYMENT, IMAGE, make_remote, remote_file
from adapters.oci_registry import OCI_INDEX, OCI_MANIFEST, Registry, build_image, need_tools
from conftest import Project, make_project
from shipyard.config import load
from shipyard.core.builds import PASSED, WAITING_IMAGE
from shipyard.services.context import Context, open_context
from shipyard.services.scheduler import run_poll
from shipyard.services.views import builds as build_views
from shipyard.services.webhooks.checks import record_check
from shipyard.services.webhooks.ingest import ingest
from shipyard.store.models import Build, Deployment, Environment

pytestmark = pytest.mark.slow

BO = ("Bo Dev", "bo@example.com")
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
poll_interval = 0

[environments.stage]
runtime = "gitops"
auto = true
artifact_wait = 2

[environments.stage.gitops]
repo = "{remote}"
path = "k8s/stage"
image = "{image}"

[environments.prod]
runtime = "gitops"
accepts = '^\\d{{4}}\\.\\d{{2}}\\.\\d{{2}}(\\.\\d+)?$'
tag = "prod-{{ref}}"
after = "stage"
artifact_wait = 2

[environments.prod.gitops]
repo = "{remote}"
path = "k8s/prod"
image = "{image}"
"""

OVERLAY = f"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: {IMAGE}
    newTag: "0000000"  # written by Shipyard
"""


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    need_tools()
    with Registry(tmp_path / "oci") as reg:
        yield reg


def setup(tmp: Path, reg: Registry) -> tuple[Project, Path]:
    files = {
        "base/deployment.yaml": DEPLOYMENT,
        "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "k8s/stage/kustomization.yaml": OVERLAY,
        "k8s/prod/kustomization.yaml": OVERLAY,
    }
    remote, _ = make_remote(tmp, files)
    p = make_project(tmp / "monitor")
    text = CONFIG.format(registry=reg.host, repository=REPOSITORY, remote=remote, image=IMAGE)
    p.repo.commit("Deploy through GitOps", {"shipyard.toml": text}, author=BO)
    return p, remote


def context(p: Project) -> Context:
    return open_context(load(p.path / "shipyard.toml"), actor="ci@example.com")


def ci_reports(ctx: Context, sha: str) -> None:
    """What POST /webhooks/build records for a passed ``ci`` check, then its ingest."""

    def write(session: Session) -> None:
        build = session.execute(
            select(Build).where(Build.app_id == ctx.app_id, Build.sha == sha)
        ).scalar_one()
        record_check(session, build, "ci", PASSED, "ok", 1000)

    ctx.store.retrying(write)
    ingest(ctx, ["ci"])


def build_of(ctx: Context, sha: str) -> Build:
    with ctx.store.read() as s:
        return s.execute(select(Build).where(Build.sha == sha)).scalar_one()


def deployments(ctx: Context, env: str) -> list[tuple[str, str, str | None]]:
    with ctx.store.read() as s:
        rows = s.execute(
            select(Deployment.commit, Deployment.state, Deployment.digest)
            .join(Environment, Deployment.environment_id == Environment.id)
            .where(Environment.name == env)
            .order_by(Deployment.id)
        ).all()
    return [(c[:7], st, d) for c, st, d in rows]


def registry_digest(reg: Registry, tag: str) -> str | None:
    r = httpx.head(
        f"http://{reg.host}/v2/{REPOSITORY}/manifests/{tag}",
        headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"},
        timeout=10,
    )
    return r.headers.get("Docker-Content-Digest") if r.status_code == 200 else None


def test_ci_report_first_image_later_moves_stage_at_the_next_poll(
    tmp_path: Path, registry: Registry
) -> None:
    p, remote = setup(tmp_path, registry)
    sha = p.head()
    ctx = context(p)
    try:
        run_poll(ctx, datetime.now(UTC))  # records the build; it waits for CI
        ci_reports(ctx, sha)
        build = build_of(ctx, sha)
        assert (build.status, build.artifact_digest) == (WAITING_IMAGE, None)
        assert deployments(ctx, "stage") == []  # not green: nothing follows it
        [view] = [v for v in build_views(ctx) if v.build.sha == sha]
        assert view.status_text == f"waiting for image {REPOSITORY}:{sha[:7]}"
        listed = p.ok("builds").out
        assert f"waiting for image {REPOSITORY}:{sha[:7]}" in listed

        image = build_image(tmp_path / "layout", "first")
        registry.push(image.layout, REPOSITORY, sha[:7])
        run_poll(ctx, datetime.now(UTC))  # the next poll finds the image; nobody acts

        build = build_of(ctx, sha)
        assert (build.status, build.artifact_digest) == (PASSED, image.digest)
        assert deployments(ctx, "stage") == [(sha[:7], "succeeded", image.digest)]
        overlay = remote_file(remote, "k8s/stage/kustomization.yaml")
        assert f'newTag: "{sha[:7]}"' in overlay and image.digest in overlay
        assert f"{sha[:7]}" in p.ok("builds").out and "waiting for image" not in p.ok("builds").out
    finally:
        ctx.close()


def test_an_image_never_pushed_makes_the_deploy_wait_and_fail_in_one_line(
    tmp_path: Path, registry: Registry
) -> None:
    p, _ = setup(tmp_path, registry)
    sha = p.head()
    ctx = context(p)
    try:
        run_poll(ctx, datetime.now(UTC))
        ci_reports(ctx, sha)
        run_poll(ctx, datetime.now(UTC))  # still no image: still waiting, nothing deployed
        assert build_of(ctx, sha).status == WAITING_IMAGE
        assert deployments(ctx, "stage") == []
    finally:
        ctx.close()

    r = p.run("deploy", "stage", sha[:7], "--yes")
    assert r.code != 0 and "Traceback" not in r.text
    line = f"image {REPOSITORY}:{sha[:7]} was not pushed within 2s (the checks of {sha[:7]} passed)"
    assert line in r.err
    ctx = context(p)
    try:
        assert deployments(ctx, "stage") == [(sha[:7], "failed", None)]
    finally:
        ctx.close()


def test_the_registry_down_fails_a_prod_deploy_cleanly(tmp_path: Path, registry: Registry) -> None:
    p, remote = setup(tmp_path, registry)
    ctx = context(p)
    try:
        first = p.head()
        one = build_image(tmp_path / "layout-1", "first")
        registry.push(one.layout, REPOSITORY, first[:7])
        run_poll(ctx, datetime.now(UTC))
        ci_reports(ctx, first)
        p.ok("prerelease", "--date", "2024-09-01")
        p.ok("deploy", "prod", "2024.09.01", "--yes")
        assert registry_digest(registry, "prod-2024.09.01") == one.digest

        p.repo.squash_pr(12, "Tidy the footer", p.features("footer"), author=BO)
        second = p.head()
        two = build_image(tmp_path / "layout-2", "second")
        registry.push(two.layout, REPOSITORY, second[:7])
        run_poll(ctx, datetime.now(UTC))
        ci_reports(ctx, second)
        assert deployments(ctx, "stage")[-1] == (second[:7], "succeeded", two.digest)
        p.ok("prerelease", "--date", "2024-09-02")
        prod_before = remote_file(remote, "k8s/prod/kustomization.yaml")

        registry.stop()  # the registry goes down
        r = p.run("deploy", "prod", "2024.09.02", "--yes")
        assert r.code != 0 and "Traceback" not in r.text
        errors = [line for line in r.err.splitlines() if line.startswith("error:")]
        # Retried, then one line; the deploy did not get past the registry.
        assert errors == [
            f"error: cannot reach the registry {registry.host} (ConnectError, 8 tries)"
        ]
    finally:
        ctx.close()

    with registry:  # back up on the same storage: nothing was left half-done
        assert registry_digest(registry, "prod-2024.09.02") is None
        assert registry_digest(registry, "prod-2024.09.01") == one.digest
    assert remote_file(remote, "k8s/prod/kustomization.yaml") == prod_before
    ctx = context(p)
    try:
        prod = deployments(ctx, "prod")
        assert prod[0] == (first[:7], "succeeded", one.digest)
        assert [(c, s) for c, s, _ in prod[1:]] == [(second[:7], "failed")]
        assert first[:7] in next(
            line for line in p.ok("status").out.splitlines() if line.lstrip().startswith("prod")
        )
    finally:
        ctx.close()
