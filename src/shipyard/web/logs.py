"""Structured logs: one JSON object per line on stderr, for the server."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipyard.core.secrets import Scrubber

access = logging.getLogger("shipyard.http")
FIELDS = ("method", "path", "status", "ms", "client", "event", "app", "environment")


class JsonFormatter(logging.Formatter):
    """One JSON object per record; every configured secret value scrubbed out of it."""

    def __init__(self, scrubber: Scrubber | None = None) -> None:
        super().__init__()
        # "is not None": an empty scrubber is falsy, and it may learn secrets later.
        self.scrubber = scrubber if scrubber is not None else Scrubber()

    def format(self, record: logging.LogRecord) -> str:
        return self.scrubber.text(self._format(record))

    def _format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which worker of ``serve --workers``
        }
        for key in FIELDS:
            if key in record.__dict__:
                out[key] = record.__dict__[key]
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(level: int = logging.INFO, scrubber: Scrubber | None = None) -> None:
    """Send Shipyard's and the server's logs to stderr as JSON lines, secrets scrubbed."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(scrubber))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # replaced by shipyard.http


class AccessLog:
    """ASGI middleware: one log line per HTTP request (method, path, status, ms, client).

    A plain ASGI wrapper rather than Starlette's ``BaseHTTPMiddleware``, which costs a
    task and a stream per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees when the app fails before it answers

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            method, path = scope["method"], scope["path"]
            access.info(
                "%s %s %s",
                method,
                path,
                status,
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "client": client[0] if client else None,
                },
            )


# Set by the one route that answers with a secret's value (to a user holding a grant,
# audited): its answer goes out unscrubbed, and the header itself is dropped.
REVEAL_HEADER = "x-shipyard-reveal"
_REVEAL = REVEAL_HEADER.encode()


class ScrubSecrets:
    """ASGI middleware: every configured secret value is taken out of every answer
    (API JSON, pages, errors), whatever put it there (but for ``REVEAL_HEADER``).

    A body sent whole is scrubbed and its Content-Length set again; a streamed one
    is scrubbed chunk by chunk."""

    def __init__(self, app: ASGIApp, scrubber: Scrubber) -> None:
        self.app = app
        self.scrubber = scrubber

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.scrubber:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        reveal = False

        async def sending(message: Message) -> None:
            nonlocal start, reveal
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                reveal = any(k == _REVEAL for k, _ in headers)
                if reveal:
                    message = {**message, "headers": [(k, v) for k, v in headers if k != _REVEAL]}
                    await send(message)
                    return
                start = message  # held until the body shows how long it will be
                return
            if message["type"] == "http.response.body" and not reveal:
                body = self.scrubber.bytes(message.get("body", b""))
                message = {**message, "body": body}
                if start is not None:
                    headers = [
                        (k, v) for k, v in start.get("headers", []) if k != b"content-length"
                    ]
                    if not message.get("more_body", False):
                        headers.append((b"content-length", str(len(body)).encode()))
                    await send({**start, "headers": headers})
                    start = None
            await send(message)

        await self.app(scope, receive, sending)
