"""``shipyard restart ENV`` on the local runtime: a new instance of the same artifact."""

from __future__ import annotations

from conftest import Project
from shipyard.adapters.runtime.local import LocalRuntime


def test_restart_starts_a_new_instance_of_the_same_version(project: Project) -> None:
    p = project
    r = p.run("restart", "prod")
    assert r.code == 1 and "nothing was deployed to prod yet" in r.err
    assert "Traceback" not in r.err

    p.ok("sync")
    head = p.head()
    runtime = LocalRuntime(p.path / ".shipyard")
    before = runtime.current("monitor", "stage")
    assert before is not None and before.commit == head

    r = p.ok("restart", "stage")
    assert f"stage restarted: {head[:7]}" in r.out
    after = runtime.current("monitor", "stage")
    assert after is not None and after.commit == head
    assert after.pid != before.pid  # fresh process, same artifact
    assert p.served("stage") == head
    assert "environment.restarted" in p.ok("audit", "log").out
