"""The Argo CD double refuses what Argo CD's published description does not allow."""

from __future__ import annotations

import httpx
from argocd.double import ArgoDouble, Description

PATH = "/api/v1/applications/web-prod"


def test_requests_outside_the_description_are_violations() -> None:
    with (
        ArgoDouble("web-prod", token="t") as argo,
        httpx.Client(base_url=argo.url, headers={"Authorization": "Bearer t"}) as client,
    ):
        assert client.get(PATH, params={"refresh": "normal"}).status_code == 200
        assert client.get(PATH, params={"hard": "1"}).status_code == 400
        assert client.post(f"{PATH}/sync", json={"revision": 7}).status_code == 400
        assert client.post(f"{PATH}/sync", json={"revison": "abc"}).status_code == 400
        assert client.delete(f"{PATH}/sync").status_code == 501  # no such operation served
    assert [v.split(":")[0] for v in argo.violations] == [
        f"GET {PATH}",
        f"POST {PATH}/sync",
        f"POST {PATH}/sync",
    ]
    assert "query parameter 'hard' is not described" in argo.violations[0]
    assert "7 is not of type 'string'" in argo.violations[1]
    assert "'revison' was unexpected" in argo.violations[2]


def test_a_response_the_description_does_not_allow_is_a_violation() -> None:
    description = Description()
    good = {"status": {"sync": {"revision": "abc", "status": "Synced"}}}
    assert description.check_response("GET", PATH, 200, good) == []
    bad = {"status": {"health": {"status": "Healthy", "since": "now"}}}
    assert description.check_response("GET", PATH, 200, bad) != []
    assert description.check_response("GET", PATH, 500, good) == [
        f"GET {PATH}: HTTP 500 is not a described response"
    ]
