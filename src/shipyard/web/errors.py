"""One error shape for every 4xx and 5xx the server sends::

{"error": {"code": "refused", "message": "deploy to prod refused: ...", "details": {...}}}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipyard.core.unicode import lone_surrogate
from shipyard.errors import ShipyardError

log = logging.getLogger("shipyard.web")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}


def body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


# Where a request's part came from, as FastAPI puts it first in an error's ``loc``.
SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


def describe(error: Mapping[str, Any]) -> str:
    """One line for a validation error, naming the field: ``until: unknown field``,
    ``limit: must be at least 1``, ``changes -> 0 -> kind: Input should be ...``."""
    loc = list(error.get("loc", ()))
    if len(loc) > 1 and loc[0] in SOURCES and isinstance(loc[1], str):
        loc = loc[1:]  # "limit", not "query -> limit"; a JSON error keeps "body -> 12"
    where = " -> ".join(str(p) for p in loc)
    ctx = error.get("ctx") or {}
    kind = error.get("type")
    if kind == "extra_forbidden":
        what = "unknown field"
    elif kind == "greater_than_equal" and "ge" in ctx:
        what = f"must be at least {ctx['ge']}"
    elif kind == "less_than_equal" and "le" in ctx:
        what = f"must be at most {ctx['le']}"
    else:
        what = str(error.get("msg"))
    return f"{where}: {what}" if where else what


HtmlPage = Callable[[Request, int, str, str], Response]


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not the API, not a webhook, not a script)."""
    path = request.url.path
    if path.startswith((API_PREFIX, "/webhooks/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def install(app: FastAPI, html: HtmlPage | None = None) -> None:
    """Install the handlers; ``html`` renders a readable page for a browser's 404 or 405."""

    @app.exception_handler(ShipyardError)
    async def _shipyard(request: Request, exc: ShipyardError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if html is not None and exc.status_code in (404, 405) and wants_html(request):
            title = "Page not found" if exc.status_code == 404 else "Not allowed here"
            message = f"There is no page at {request.url.path}."
            return html(request, exc.status_code, title, message)
        code = CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(body(code, message), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        return JSONResponse(
            body("invalid", describe(first), {"errors": len(exc.errors())}), status_code=422
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(body("internal", "internal error; see the server log"), status_code=500)


API_PREFIX = "/api/"
MAX_API_BODY = 1024 * 1024


class StrictJson:
    """ASGI middleware: a JSON body holding a lone surrogate is a 422 before any route runs.

    Python's JSON reader accepts ``"\\ud800"``; the string would reach the database and
    fail there as a 500, after the action had begun."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        if b"json" not in headers.get(b"content-type", b"") or not str(
            scope.get("path", "")
        ).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        chunks, more, size = [], True, 0
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > MAX_API_BODY:
                await _answer(
                    scope, receive, send, 413, f"the body is larger than {MAX_API_BODY} bytes"
                )
                return
        body = b"".join(chunks)
        if lone_surrogate(body):
            message_ = "the JSON body holds a lone surrogate (such as \\ud800): not valid Unicode"
            await _answer(scope, receive, send, 422, message_)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    await JSONResponse(body(CODES[status], message), status_code=status)(scope, receive, send)
