"""The unique index over an environment's active deployments gets its predicate from
the dialect that creates it; loading the models loads no PostgreSQL dialect."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, create_mock_engine, insert
from sqlalchemy.exc import IntegrityError

from shipyard.store.models import App, Base, Deployment, Environment


def test_the_models_do_not_load_postgresql() -> None:
    code = (
        "import sys, shipyard.store.models; print('sqlalchemy.dialects.postgresql' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("url", ["sqlite://", "postgresql+psycopg://"])
def test_each_dialect_creates_the_partial_index(url: str) -> None:
    ddl: list[str] = []
    engine: Any = None

    def dump(sql: Any, *_a: Any, **_kw: Any) -> None:
        ddl.append(" ".join(str(sql.compile(dialect=engine.dialect)).split()))

    engine = create_mock_engine(url, dump)
    Base.metadata.create_all(engine, checkfirst=False)
    [index] = [d for d in ddl if "uq_deployments_one_active" in d]
    assert index == (
        "CREATE UNIQUE INDEX uq_deployments_one_active ON deployments (environment_id) "
        "WHERE state IN ('rolling_out', 'tagging', 'verifying', 'waiting_artifact')"
    )


def test_one_active_deployment_per_environment() -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    now = datetime.now(UTC)
    row = {
        "app_id": 1, "environment_id": 1, "commit": "a" * 40, "ref": "main", "tag": "t",
        "kind": "deploy", "requested_by": "ana", "created_at": now, "updated_at": now,
    }  # fmt: skip
    with engine.begin() as c:
        c.execute(insert(App).values(id=1, name="monitor", repo="/r", created_at=now))
        c.execute(insert(Environment).values(id=1, app_id=1, name="stage"))
        c.execute(insert(Deployment).values(**row, state="succeeded"))
        c.execute(insert(Deployment).values(**row, state="succeeded"))
        c.execute(insert(Deployment).values(**row, state="rolling_out"))
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(insert(Deployment).values(**row, state="tagging"))
