"""The artifact facts on the dashboard and in the API: a deployment's digest, and a build
whose checks passed while its image is not pushed yet."""

from __future__ import annotations

from sqlalchemy import select, update

from conftest import Project
from shipyard.config import load
from shipyard.core.builds import WAITING_IMAGE
from shipyard.store.db import open_store
from shipyard.store.models import Build, Deployment
from web.test_pages import Clients, log_in
from web.test_pages import run as run_pages


def _stored(project: Project) -> tuple[int, str, str]:
    """The stage deployment's id and digest, and its commit."""
    store = open_store(load(project.path / "shipyard.toml").database_url)
    try:
        with store.read() as s:
            d = s.execute(select(Deployment).order_by(Deployment.id.desc())).scalars().first()
            assert d is not None and d.digest
            return d.id, d.digest, d.commit
    finally:
        store.close()


def test_a_deployment_with_a_digest_shows_it_on_its_page_and_in_the_api(project: Project) -> None:
    project.ok("sync")  # stage follows main: a deployment that records its artifact's digest
    dep_id, digest, commit = _stored(project)
    assert digest.startswith("sha256:") and len(digest) == 71

    async def body(c: Clients, tokens: dict[str, str]) -> None:
        auth = {"Authorization": f"Bearer {tokens['vic']}"}
        await log_in(c["vic"], tokens["vic"])
        page = await c["vic"].get(f"/apps/monitor/deployments/{dep_id}")
        assert page.status_code == 200
        assert f'<code class="digest" title="{digest}">{digest}</code>' in page.text
        r = await c["vic"].get("/api/v1/apps/monitor/environments/stage/deployments", headers=auth)
        assert r.status_code == 200
        [answer] = [d for d in r.json() if d["id"] == dep_id]
        assert (answer["digest"], answer["commit"]) == (digest, commit)

    run_pages(project, body)


def test_a_build_waiting_for_its_image_says_so_on_the_builds_page_and_in_the_api(
    project: Project,
) -> None:
    project.ok("sync")
    store = open_store(load(project.path / "shipyard.toml").database_url)
    try:
        with store.write() as s:  # checks passed, the artifact never appeared
            s.execute(update(Build).values(status=WAITING_IMAGE, artifact_digest=None))
    finally:
        store.close()

    async def body(c: Clients, tokens: dict[str, str]) -> None:
        auth = {"Authorization": f"Bearer {tokens['vic']}"}
        await log_in(c["vic"], tokens["vic"])
        page = await c["vic"].get("/apps/monitor/builds")
        assert page.status_code == 200
        assert '<span class="pill wait">waiting for its image</span>' in page.text
        sha = (await c["vic"].get("/api/v1/apps/monitor/builds", headers=auth)).json()[0][
            "short_sha"
        ]
        promote = await c["vic"].get(
            "/apps/monitor/promote", params={"environment": "dev", "ref": sha}
        )
        assert promote.status_code == 200
        assert "waiting for its image" in promote.text and "waiting_image" not in promote.text
        r = await c["vic"].get("/api/v1/apps/monitor/builds", headers=auth)
        [build] = r.json()
        assert (build["status"], build["digest"]) == (WAITING_IMAGE, None)

    run_pages(project, body)
