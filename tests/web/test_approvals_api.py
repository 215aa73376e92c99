"""Approvals through the REST API of a real ``shipyard serve``: refusals are 4xx JSON errors
that change nothing, and the server runs the deploy when the last approval arrives."""

from __future__ import annotations

import time

import httpx

from conftest import RELEASER, Project, running_server

APPROVALS = 'tag = "dev-{ref}"\napprovals = 2\n'


def _token(p: Project, name: str, role: str) -> dict[str, str]:
    p.ok("user", "add", name, "--role", role)
    token = p.ok("token", "create", "--user", name).out.strip().splitlines()[-1]
    return {"authorization": f"Bearer {token}"}


def _error(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code
    return str(body["message"])


def test_the_api_refuses_bad_approvals_and_runs_the_approved_deploy(project: Project) -> None:
    p = project
    text = (p.path / "shipyard.toml").read_text().replace('tag = "dev-{ref}"\n', APPROVALS, 1)
    p.repo.commit("Dev needs two approvals", {"shipyard.toml": text}, author=RELEASER)
    p.ok("sync")
    head = p.head()
    with running_server(p.path) as srv:
        ana, bo = _token(p, "ana", "releaser"), _token(p, "bo", "releaser")
        quinn, cy = _token(p, "quinn", "qa"), _token(p, "cy", "admin")
        api = f"{srv.url}/api/v1/apps/monitor"
        with httpx.Client(timeout=30) as c:
            r = c.post(
                f"{api}/deployments", json={"environment": "dev", "ref": head[:7]}, headers=ana
            )
            assert r.status_code == 201 and r.json()["state"] == "awaiting_approval", r.text
            dep = r.json()["id"]
            at = f"{api}/deployments/{dep}/approvals"
            assert "cannot approve" in _error(c.post(at, headers=ana), 403, "forbidden")
            assert "role 'qa'" in _error(c.post(at, headers=quinn), 403, "forbidden")
            assert c.get(at, headers=ana).json()["approvals"] == []
            r = c.post(at, json={"reason": "looks good"}, headers=bo)
            assert r.status_code == 201 and r.json()["missing"] == 1 and not r.json()["released"]
            assert "already" in _error(c.post(at, headers=bo), 409, "refused")
            waiting = c.get(f"{api}/deployments/awaiting", headers=quinn).json()
            assert [w["deployment"]["id"] for w in waiting] == [dep]
            assert [a["user"] for a in waiting[0]["approvals"]] == ["bo"]
            r = c.post(at, headers=cy)
            assert r.status_code == 201 and r.json()["released"] is True
            deadline = time.monotonic() + 120
            while (state := c.get(at, headers=ana).json()["deployment"]["state"]) not in (
                "succeeded",
                "failed",
            ):
                assert time.monotonic() < deadline, state
                time.sleep(0.2)
            assert state == "succeeded" and p.served("dev") == head
            assert "is succeeded" in _error(c.post(at, headers=cy), 409, "refused")
            r = c.post(f"{api}/deployments/{dep}/cancel", headers=ana)
            assert "is succeeded" in _error(r, 409, "refused")
            _error(c.post(f"{api}/deployments/999999/approvals", headers=cy), 404, "not_found")
