"""A schema-driven fuzzer against /openapi.json: whatever it sends, never a 5xx."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from conftest import make_project, stop_all
from shipyard.config import load
from shipyard.services.users import bootstrap_admin
from shipyard.store.db import open_store
from shipyard.web.app import create_app


def test_no_server_errors_whatever_is_sent(tmp_path: Path) -> None:
    """Every operation of /openapi.json, with generated bodies, paths and queries, as admin."""
    p = make_project(tmp_path / "monitor")
    p.ok("sync")
    settings_ = load(p.path / "shipyard.toml")
    store = open_store(settings_.database_url)
    admin = bootstrap_admin(store)
    assert admin is not None
    headers = {"authorization": f"Bearer {admin.token}"}
    app = create_app(settings_, store=store)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = calls = 0
    answers: Counter[int] = Counter()  # by status code
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1

            @given(case=operation.as_strategy())
            @settings(
                max_examples=int(os.environ.get("SHIPYARD_FUZZ_EXAMPLES", "12")),
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def check(case: schemathesis.Case) -> None:
                # Half the cases on the served app, so generated bodies reach the services.
                nonlocal calls
                calls += 1
                if case.path_parameters and "app" in case.path_parameters and calls % 2:
                    case.path_parameters["app"] = "monitor"
                response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
                answers[response.status_code] += 1

            check()
    finally:
        store.close()
        stop_all(p)
    assert operations >= 20
    print(
        f"schemathesis: {operations} operations, {calls} calls, answers {dict(sorted(answers.items()))}"
    )
    assert not [code for code in answers if code >= 500]


def test_unauthenticated_fuzzing_never_5xx_either(tmp_path: Path) -> None:
    """Without a token every /api route answers 401 with the error shape, never a 5xx."""
    import asyncio

    import httpx

    p = make_project(tmp_path / "monitor")
    settings_ = load(p.path / "shipyard.toml")
    store = open_store(settings_.database_url)
    app = create_app(settings_, store=store)
    spec = app.openapi()

    async def main() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            for path, ops in spec["paths"].items():
                if not path.startswith("/api/"):
                    continue
                for method in ops:
                    url = (
                        path.replace("{app}", "monitor")
                        .replace("{environment}", "prod")
                        .replace("{key}", "MNTOR-1")
                    )
                    r = await c.request(method.upper(), url, content=b"\x00garbage")
                    assert r.status_code in (401, 422), (method, path, r.status_code)
                    assert set(r.json()["error"]) == {"code", "message", "details"}

    try:
        asyncio.run(main())
    finally:
        store.close()
