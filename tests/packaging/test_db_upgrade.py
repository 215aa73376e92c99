"""``shipyard db upgrade``, the migration step a Kubernetes pod runs before it serves:
real processes on a real PostgreSQL, started together, as pods of one rollout are."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from conftest import SHIPYARD, Project
from shipyard.store.db import HEAD_REVISION, safe_url


def _start(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SHIPYARD, "db", "upgrade", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "COLUMNS": "200", **env},
    )


@pytest.mark.postgres
def test_concurrent_upgrades_end_at_head_once_without_error(pg_url: str, tmp_path: Path) -> None:
    # no shipyard.toml here: the variable alone names the database, as in the pod
    procs = [_start({"SHIPYARD_DATABASE_URL": pg_url}, tmp_path) for _ in range(3)]
    outs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert err == ""
            outs.append(out.strip())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    upgraded = [o for o in outs if f"upgraded from revision none to {HEAD_REVISION}" in o]
    assert len(upgraded) == 1, outs
    assert [o for o in outs if o not in upgraded] == [
        f"database {safe_url(pg_url)} already at revision {HEAD_REVISION}"
    ] * 2
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert rows == [(HEAD_REVISION,)]
    assert {"apps", "deployments", "leases", "audit_events"} <= tables


def test_without_the_variable_it_upgrades_the_database_shipyard_toml_names(
    project: Project,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SHIPYARD_DATABASE_URL"}
    first = project.run("db", "upgrade", env=env)
    assert first.code == 0, first.text
    assert f"upgraded from revision none to {HEAD_REVISION}" in first.out
    assert (project.path / ".shipyard" / "shipyard.db").is_file()
    again = project.ok("db", "upgrade", env=env)
    assert f"already at revision {HEAD_REVISION}" in again.out


@pytest.mark.parametrize("wait", [[], ["--wait", "1"]], ids=["at-once", "after-waiting"])
def test_an_unreachable_database_is_one_line_without_its_password(
    tmp_path: Path, wait: list[str]
) -> None:
    url = "postgresql+psycopg://shipyard:hunter2@127.0.0.1:1/shipyard"
    proc = _start({"SHIPYARD_DATABASE_URL": url}, tmp_path, *wait)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "hunter2" not in out + err
    assert "Traceback" not in err
    lines = (out + err).strip().splitlines()
    assert len(lines) == 1 and "shipyard:***@127.0.0.1:1" in lines[0], lines
