"""Real HTTP servers on 127.0.0.1 for notification tests.

``LoopbackServer`` records every request and answers with scripted replies,
then a default one; ``hang()`` makes it accept requests and answer none until
``release()``. ``FakeSlack`` is a loopback server that checks payloads the way
Slack's incoming webhooks do and answers with Slack's plain-text error strings.

    with FakeSlack() as slack:
        slack.fail(2, 500, b"rollup_error")
        SlackSink(slack.url).send(event)   # NotifyError, retryable
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        owner = self.server.owner
        request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        status, headers, payload = owner._arrive(request)
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up waiting (a hang test)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    owner: LoopbackServer
    daemon_threads = False  # server_close() joins handler threads: nothing outlives a test

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class LoopbackServer:
    """An HTTP server on an ephemeral loopback port, answering POSTs."""

    def __init__(self, respond: Callable[[Received], Reply] | None = None) -> None:
        self._respond = respond or (lambda request: (200, {}, b"ok"))
        self._lock = threading.Lock()
        self._script: list[Reply] = []
        self._released = threading.Event()
        self._released.set()
        self.received: list[Received] = []
        self.arrived = threading.Event()  # set at every request
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def fail(
        self, times: int, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next ``times`` requests with ``status`` and ``body``."""
        with self._lock:
            self._script.extend([(status, headers or {}, body)] * times)

    def hang(self) -> None:
        """Accept requests but answer none until :meth:`release`."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.json() for r in self.received]

    def _arrive(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
        self.arrived.set()
        self._released.wait(60)
        with self._lock:
            if self._script:
                return self._script.pop(0)
        return self._respond(request)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


BLOCK_TYPES = {
    "actions", "context", "divider", "file", "header", "image", "input", "markdown",
    "rich_text", "section", "video",
}  # fmt: skip
TEXT_TYPES = {"plain_text", "mrkdwn"}


def slack_check(body: bytes) -> tuple[int, bytes]:
    """What Slack's incoming webhook answers to ``body``: (status, error string or ``ok``)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return 400, b"invalid_payload"
    if not isinstance(payload, dict):
        return 400, b"invalid_payload"
    blocks = payload.get("blocks")
    if not payload.get("text") and not blocks:
        return 400, b"no_text"
    if blocks is not None and not (
        isinstance(blocks, list) and len(blocks) <= 50 and all(map(_block_ok, blocks))
    ):
        return 400, b"invalid_blocks"
    return 200, b"ok"


def _text_ok(obj: Any, limit: int, types: set[str] = TEXT_TYPES) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("type") in types
        and isinstance(obj.get("text"), str)
        and 0 < len(obj["text"]) <= limit
    )


def _block_ok(block: Any) -> bool:
    if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
        return False
    kind = block["type"]
    if kind == "header":
        return _text_ok(block.get("text"), 150, {"plain_text"})
    if kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            return False
        text_ok = text is None or _text_ok(text, 3000)
        fields_ok = fields is None or (
            isinstance(fields, list)
            and 0 < len(fields) <= 10
            and all(_text_ok(f, 2000) for f in fields)
        )
        return text_ok and fields_ok
    if kind == "context":
        elements = block.get("elements")
        return (
            isinstance(elements, list)
            and 0 < len(elements) <= 10
            and all(_text_ok(e, 3000) for e in elements)
        )
    return True


class FakeSlack(LoopbackServer):
    """A Slack incoming webhook: validates Block Kit payloads, answers ``ok`` or an error string."""

    def __init__(self) -> None:
        super().__init__(self._check)
        self.error: tuple[int, bytes] | None = None  # answer every request with this

    def _check(self, request: Received) -> Reply:
        if self.error is not None:
            return self.error[0], {}, self.error[1]
        status, body = slack_check(request.body)
        return status, {}, body
