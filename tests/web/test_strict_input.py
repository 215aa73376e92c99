"""A client's typo is a 422 naming it: unknown body fields and counts below 1."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx

from conftest import Project
from shipyard.web.errors import describe
from web.test_api import auth, is_error, run

APP = "/api/v1/apps/monitor"
ENV = f"{APP}/environments/prod"

# (path, body, who, the message): one unknown field on every kind of request body.
UNKNOWN: list[tuple[str, dict[str, Any], str, str]] = [
    (f"{APP}/freezes", {"reason": "x", "until": "notadate"}, "rel", "until: unknown field"),
    (
        f"{APP}/deployments/plan",
        {"environment": "prod", "ref": "x", "reasn": "typo"},
        "vic",
        "reasn: unknown field",
    ),
    (f"{APP}/deployments", {"environment": "prod", "ref": "x", "force": True}, "rel", "force: "),
    (f"{ENV}/rollback", {"reason": "x", "to": "2024.9.1"}, "admin", "to: unknown field"),
    (f"{ENV}/adopt", {"ref": "x", "reason": "y", "why": "z"}, "rel", "why: unknown field"),
    (f"{ENV}/plan/release", {"deploy": False, "dry_run": True}, "rel", "dry_run: unknown field"),
    (f"{APP}/e2e/prod", {"ref": "x", "timeout": 5}, "rel", "timeout: unknown field"),
    (f"{APP}/tickets/verify", {"keys": ["MNTOR-1"], "all": True}, "quinn", "all: unknown field"),
    (f"{APP}/tickets/MNTOR-1/reject", {"reason": "x", "to": "y"}, "quinn", "to: unknown field"),
    (f"{APP}/prereleases", {"date": None, "tag": "x"}, "rel", "tag: unknown field"),
    (f"{APP}/reverts", {"targets": ["#1"], "reasn": "x"}, "rel", "reasn: unknown field"),
    (f"{APP}/hotfixes", {"ref": "x", "tag": "y"}, "rel", "tag: unknown field"),
    (f"{APP}/deployments/1/approvals", {"reason": "x", "as": "y"}, "quinn", "as: unknown field"),
    (
        f"{ENV}/config",
        {"changes": [{"name": "A", "kind": "plain", "value": "1", "secret": True}]},
        "admin",
        "changes -> 0 -> secret: unknown field",
    ),
    (f"{ENV}/grants", {"duration": "15m", "reason": "x", "for": "1h"}, "admin", "for: unknown"),
    ("/api/v1/users", {"name": "zed", "role": "viewer", "mail": "z@x"}, "admin", "mail: unknown"),
    ("/api/v1/tokens", {"name": "t2", "expires": "1d"}, "admin", "expires: unknown field"),
]


def _rows(p: Project, sql: str) -> list[Any]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_an_unknown_body_field_is_a_422_naming_it_and_changes_nothing(project: Project) -> None:
    p = project

    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        audit = _rows(p, "SELECT COUNT(*) FROM audit_events")
        for path, sent, who, message in UNKNOWN:
            err = is_error(await c.post(path, json=sent, headers=auth(t[who])), 422, "invalid")
            assert err["message"].startswith(message), (path, err)
        assert _rows(p, "SELECT COUNT(*) FROM audit_events") == audit
        r = await c.get(f"{APP}/freezes", headers=auth(t["vic"]))
        assert r.json() == {"active": [], "upcoming": []}
        # The fields they declare still work, "for" and its Python name alike.
        for sent in ({"reason": "x", "for": "1h"}, {"reason": "y", "duration": "2h"}):
            r = await c.post(f"{APP}/freezes", json=sent, headers=auth(t["rel"]))
            assert r.status_code == 201 and r.json()["end"] is not None, r.text

    run(project, body)


def test_a_count_below_one_is_a_422_and_the_cap_stays(project: Project) -> None:
    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        h = auth(t["vic"])
        for path, name in [
            (f"{ENV}/deployments", "limit"),
            (f"{APP}/builds", "limit"),
            (f"{APP}/releases", "limit"),
            (f"{ENV}/log", "lines"),
        ]:
            for bad in ("-1", "0", "-5"):
                err = is_error(await c.get(path, params={name: bad}, headers=h), 422, "invalid")
                assert err["message"] == f"{name}: must be at least 1", (path, err)
        for good in ("1", "100000"):  # the routes' own most (500) still caps a big one
            for path in (f"{ENV}/deployments", f"{APP}/builds", f"{APP}/releases"):
                r = await c.get(path, params={"limit": good}, headers=h)
                assert r.status_code == 200, r.text

    run(project, body)


def test_the_validation_message_reads_well() -> None:
    assert describe({"type": "extra_forbidden", "loc": ("body", "until"), "msg": "x"}) == (
        "until: unknown field"
    )
    assert describe(
        {"type": "greater_than_equal", "loc": ("query", "limit"), "msg": "x", "ctx": {"ge": 1}}
    ) == ("limit: must be at least 1")
    # A JSON syntax error keeps where it is in the body; other messages are pydantic's.
    assert describe({"type": "json_invalid", "loc": ("body", 12), "msg": "JSON decode error"}) == (
        "body -> 12: JSON decode error"
    )
    assert describe({"type": "missing", "loc": ("body",), "msg": "Field required"}) == (
        "body: Field required"
    )
    assert describe({"type": "missing", "loc": ("body", "ref"), "msg": "Field required"}) == (
        "ref: Field required"
    )
