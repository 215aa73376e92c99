"""Structured logs: every request is one JSON line with its method, path, status and time."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import httpx
import pytest

from shipyard.config import parse
from shipyard.web.app import create_app
from shipyard.web.logs import JsonFormatter


def test_requests_are_logged_as_json_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = parse(
        {"app": {"name": "x", "run": "r"}, "environments": {"stage": {"port": 1, "auto": True}}},
        root=tmp_path,
    )
    app = create_app(settings)

    async def main() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            await c.get("/healthz")
            await c.get("/api/v1/apps/monitor/environments")

    with caplog.at_level(logging.INFO, logger="shipyard.http"):
        asyncio.run(main())
    app.state.store.close()
    lines = [
        json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "shipyard.http"
    ]
    assert [(x["method"], x["path"], x["status"]) for x in lines] == [
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/apps/monitor/environments", 401),
    ]
    assert all(x["level"] == "info" and x["ms"] >= 0 and x["at"].endswith("+00:00") for x in lines)
