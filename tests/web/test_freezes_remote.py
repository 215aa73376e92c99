"""``shipyard freeze`` and ``deploy --override-freeze`` driving a real server
(SHIPYARD_URL + SHIPYARD_TOKEN): the server's signed-in role decides the override."""

from __future__ import annotations

from pathlib import Path

from conftest import Project, Result, remote, running_server


def test_freezes_from_a_remote_cli(project: Project, tmp_path: Path) -> None:
    p = project
    p.ok("sync")
    sha = p.head()[:7]
    with running_server(p.path) as srv:
        assert srv.token is not None
        url, admin = srv.url, srv.token

        def run(*args: str) -> Result:
            return remote(tmp_path, url, admin, *args)

        r = run("freeze", "start", "--env", "dev", "--reason", "db migration", "--for", "1h")
        assert r.code == 0 and "dev frozen (ad hoc #1), until" in r.out, r.text
        out = run("freeze").out
        assert "frozen now: ad hoc #1 on dev" in out and "db migration" in out
        r = run("deploy", "dev", sha, "--yes")
        assert r.code == 3 and "dev is frozen (ad hoc #1" in r.err, r.text
        r = run("deploy", "dev", sha, "--yes", "--override-freeze", "--reason", "the migration")
        assert r.code == 0, r.text
        assert p.served("dev") == p.head()
        assert run("freeze", "end", "--id", "1").out.strip() == "ended 1 freeze"
        assert "no freeze" in run("freeze", "--env", "dev").out
