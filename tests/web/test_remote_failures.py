"""Through a server (SHIPYARD_URL), failed deployments exit 4 and show as they do locally."""

from __future__ import annotations

from pathlib import Path

from conftest import Project, running_server
from web.test_remote_cli import remote

BO = ("Bo Dev", "bo@example.com")


def test_remote_rollback_and_sync_that_fail_exit_4(project: Project, tmp_path: Path) -> None:
    p = project
    p.ok("sync")
    first = p.head()
    p.repo.squash_pr(7, "Add alerts MNTOR-7", p.features("alerts"), author=BO)
    p.ok("sync")
    second = p.head()
    # Every stage instance started from now on exits at once (the sample app's crash
    # switch, passed the way a user passes variables to an environment's instances).
    toml = p.path / "shipyard.toml"
    toml.write_text(toml.read_text() + '\n[environments.stage.env]\nSAMPLE_APP_CRASH = "1"\n')
    with running_server(p.path) as srv:
        assert srv.token is not None

        def cli(*args: str) -> tuple[int, str, str]:
            r = remote(tmp_path, srv.url, srv.token or "", *args)
            assert "Traceback" not in r.text, r.text
            return r.code, r.out, r.err.strip().splitlines()[-1] if r.err.strip() else ""

        code, _, last = cli("rollback", "stage", "--yes", "--reason", "stage broke")
        assert code == 4 and last.startswith("error: ") and "exited with code 1" in last

        p.repo.squash_pr(8, "Add filters MNTOR-8", p.features("filters"), author=BO)
        code, _, last = cli("sync")
        assert code == 4 and last.startswith("error: 1 deployment failed: stage: "), last
        assert p.served("stage") == second

        code, out, _ = cli("status")
        assert code == 0 and out == p.ok("status").out
        assert f"of {p.head()[:7]}, failed:" in out and f"{second[:7]} still serves" in out
        code, out, _ = cli("builds")
        assert code == 0 and "deploy failed on stage" in out

        code, out, _ = cli("logs", "stage", "--commit", p.head()[:7])
        assert code == 0 and "refusing to start" in out
        code, out, _ = cli("logs", "stage", "-n", "5")
        assert code == 0 and "refusing to start" not in out
        code, _, last = cli("logs", "nope")
        assert code == 1 and "unknown environment 'nope'" in last

        code, out, _ = cli("sync")  # nothing new: the failed build is not tried again
        assert code == 0 and f"not trying {p.head()[:7]} again" in out
    assert p.served("stage") == second != first
