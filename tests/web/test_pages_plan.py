"""The Promote page offers the stage fixes when the QA gate fails (in-process, real project)."""

from __future__ import annotations

from test_pages import BO, Clients, log_in, run

from conftest import Project


def _branches(p: Project) -> list[str]:
    return p.repo.git("branch", "--list", "--format=%(refname:short)").split()


def test_promote_offers_the_ways_out_with_confirmation_and_csrf(project: Project) -> None:
    p = project
    p.ok("sync")
    p.repo.squash_pr(1, "Add alerts MNTOR-1", {"alerts.txt": "a\n"}, author=BO)
    p.ok("sync")
    footer = p.repo.squash_pr(2, "Add footer MNTOR-2", {"footer.txt": "f\n"}, author=BO)
    p.ok("sync")
    p.repo.squash_pr(3, "Add banner MNTOR-3", {"banner.txt": "b\n"}, author=BO)
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-03")
    p.ok("qa", "verify", "MNTOR-1", "MNTOR-2", user="qa@example.com")
    want = {"environment": "prod", "ref": "2024.09.03"}

    async def body(c: Clients, t: dict[str, str]) -> None:
        csrf = {name: await log_in(c[name], t[name]) for name in ("vic", "rel")}
        vic, rel = c["vic"], c["rel"]

        page = (await rel.get("/apps/monitor/promote", params=want)).text
        assert 'id="ways-out"' in page and "MNTOR-3" in page
        assert f"/commit/{footer}" in page or footer[:7] in page
        assert "leaves 1 behind" in page and "reverts cleanly" in page
        assert 'id="fix-release"' in page and 'id="fix-revert"' in page
        assert 'action="/apps/monitor/promote/fix/release"' in page
        viewer = (await vic.get("/apps/monitor/promote", params=want)).text
        assert 'id="ways-out"' in viewer and 'id="fix-release"' not in viewer

        tags = p.git_tags()
        form = {"environment": "prod", "csrf": "forged"}
        assert (await rel.post("/apps/monitor/promote/fix/release", data=form)).status_code == 403
        form = {"environment": "prod", "csrf": csrf["vic"]}
        r = await vic.post("/apps/monitor/promote/fix/revert", data=form)
        assert r.status_code == 403 and "may not prerelease" in r.text
        form = {"environment": "qa", "csrf": csrf["rel"]}
        r = await rel.post("/apps/monitor/promote/fix/release", data=form)
        assert r.status_code == 404 and "unknown environment" in r.text
        assert p.git_tags() == tags and _branches(p) == ["main"]

        form = {"environment": "prod", "ref": "2024.09.03", "csrf": csrf["rel"]}
        r = await rel.post("/apps/monitor/promote/fix/revert", data=form)
        assert r.status_code == 200 and 'id="fix-done"' in r.text and "revert/plan-" in r.text
        assert any(b.startswith("revert/plan-") for b in _branches(p))

        r = await rel.post("/apps/monitor/promote/fix/release", data=form)
        assert r.status_code == 303
        assert "environment=prod&ref=" in r.headers["location"]
        assert p.repo.git("tag", "--points-at", footer).split() != []

    run(p, body)
