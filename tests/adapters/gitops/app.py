"""An app on loopback that reports a commit on ``/__version__`` and answers its health path,
as a Kubernetes-run app behind its ``url`` would."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class VersionApp:
    """Serves ``/__version__`` (``commit``) and ``/__heartbeat__`` (``health_status``)."""

    def __init__(self, commit: str, health_status: int = 200) -> None:
        self.commit = commit
        self.health_status = health_status
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps({"commit": app.commit, "version": "2024.09.01"}).encode()
                status = {"/__version__": 200, "/__heartbeat__": app.health_status}.get(
                    self.path, 404
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def version_app(commit: str, health_status: int = 200) -> Iterator[VersionApp]:
    """A running ``VersionApp``, shut down on the way out."""
    served = VersionApp(commit, health_status)
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()
        thread.join(timeout=10)
