"""The CLI drives a remote server (SHIPYARD_URL + SHIPYARD_TOKEN) with the same output as locally."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Project, remote, running_server

BO = ("Bo Dev", "bo@example.com")


@pytest.fixture
def server(project: Project) -> Iterator[tuple[str, str]]:
    with running_server(project.path) as srv:
        assert srv.token is not None
        yield srv.url, srv.token


def test_remote_commands_print_what_local_ones_print(
    project: Project, server: tuple[str, str], tmp_path: Path
) -> None:
    p = project
    url, token = server
    p.ok("sync")
    p.repo.squash_pr(7, "Add alerts MNTOR-7", p.features("alerts"), author=BO)
    r = remote(tmp_path, url, token, "sync")  # no shipyard.toml here: everything goes to the server
    assert r.code == 0 and "stage now runs" in r.out, r.text
    assert remote(tmp_path, url, token, "prerelease", "--date", "2024-09-04").code == 0
    for args in (
        ("releases",),
        ("tickets",),
        ("history", "stage"),
        ("diff", "prod", "stage"),
        ("builds",),
        ("notes", "2024.09.04"),
        ("notes", "--json", "2024.09.04"),
        ("status",),
    ):
        here = remote(tmp_path, url, token, *args)
        assert here.code == 0, here.text
        assert here.out == p.ok(*args).out, args
    refused = remote(tmp_path, url, token, "deploy", "prod", "2024.09.04", "--yes")
    local = p.run("deploy", "prod", "2024.09.04", "--yes")
    assert refused.code == local.code == 3
    assert refused.err.splitlines()[-1] == local.err.splitlines()[-1]
    # A role that may not deploy hears it first, before any plan or gate.
    p.ok("user", "add", "quinn", "--role", "qa")
    qa = p.ok("token", "create", "--user", "quinn").out.strip().splitlines()[-1]
    r = remote(tmp_path, url, qa, "deploy", "prod", "2024.09.04", "--yes")
    assert r.code == 1 and r.out == "", r.text
    assert r.err.strip() == "error: role 'qa' may not deploy: it needs admin or releaser"
    r = remote(tmp_path, url, token, "qa", "verify", "MNTOR-7")
    assert r.out.strip() == "✓ MNTOR-7 verified by admin"
    r = remote(tmp_path, url, token, "deploy", "prod", "2024.09.04", "--yes")
    assert r.code == 0 and "prod runs 2024.09.04" in r.out and "tagged prod-2024.09.04" in r.out, (
        r.text
    )
    assert p.served("prod") == p.head()
    assert "requested" not in p.ok("history", "prod").out and "admin" in p.ok("history", "prod").out
    assert "intact" in remote(tmp_path, url, token, "audit", "verify").out

    r = remote(tmp_path, url, "shp_wrong", "status")
    assert r.code == 1 and r.err.strip() == "error: invalid or revoked token"
    r = remote(tmp_path, url, "", "status")
    assert r.code == 1 and "SHIPYARD_TOKEN is not" in r.err
    r = remote(tmp_path, "http://127.0.0.1:1", token, "status")
    assert r.code == 1 and r.err.startswith("error: cannot reach http://127.0.0.1:1")
