"""A tiny web app to deploy with Shipyard (stdlib only).

Run it from an artifact directory, next to its ``version.json``::

    PORT=8000 python app.py

Routes: ``/`` (a page showing the app, version and commit), ``/__heartbeat__``
and ``/__lbheartbeat__`` (``{"status": "ok"}``), ``/__version__`` (the contents
of ``version.json``).

To play a bad release: a ``CRASH`` file next to this script (or
``SAMPLE_APP_CRASH=1``) makes it exit 1 at start; an ``UNHEALTHY`` file makes
``/__heartbeat__`` answer 500 for as long as it exists.
"""

from __future__ import annotations

import html
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
APP_NAME = os.environ.get("SHIPYARD_APP", "sample-app")
ENV_NAME = os.environ.get("SHIPYARD_ENV", "")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{app}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body {{ font: 16px/1.5 system-ui, sans-serif; margin: 4rem auto; max-width: 36rem; padding: 0 1rem;
         color: #1d2733; background: #f4f6f8; }}
  .card {{ background: #fff; border-radius: 12px; padding: 2rem;
          box-shadow: 0 2px 12px rgba(0, 0, 0, .08); }}
  h1 {{ margin-top: 0; }}
  dt {{ color: #6b7785; font-size: .85rem; text-transform: uppercase; }}
  dd {{ margin: 0 0 1rem; font-family: ui-monospace, monospace; overflow-wrap: anywhere; }}
  .env {{ background: #2f6fed; color: #fff; border-radius: 6px; padding: .1rem .5rem;
         font-size: .8rem; vertical-align: middle; }}
</style></head>
<body><div class="card">
<h1>{app} <span class="env">{env}</span></h1>
<dl><dt>Version</dt><dd>{version}</dd><dt>Commit</dt><dd>{commit}</dd></dl>
</div></body></html>
"""


def log(message: str) -> None:
    print(f"{APP_NAME}: {message}", file=sys.stderr, flush=True)


def read_version() -> dict[str, Any] | None:
    try:
        data = json.loads((HERE / "version.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class Handler(BaseHTTPRequestHandler):
    server_version = "sample-app"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/__heartbeat__", "/__lbheartbeat__"):
            if path == "/__heartbeat__" and (HERE / "UNHEALTHY").exists():
                self.send_json(500, {"status": "error", "reason": "UNHEALTHY file present"})
            else:
                self.send_json(200, {"status": "ok"})
        elif path == "/__version__":
            version = read_version()
            if version is None:
                self.send_json(500, {"error": "version.json is missing or unreadable"})
            else:
                self.send_json(200, version)
        elif path == "/":
            self.send_page()
        else:
            self.send_json(404, {"error": f"no route {path}"})

    def send_page(self) -> None:
        version = read_version() or {}
        body = PAGE.format(
            app=html.escape(APP_NAME),
            env=html.escape(ENV_NAME or "local"),
            version=html.escape(str(version.get("version", "unknown"))),
            commit=html.escape(str(version.get("commit", "unknown"))),
        ).encode()
        self.send_body(200, "text/html; charset=utf-8", body)

    def send_json(self, status: int, payload: dict[str, Any]) -> None:
        self.send_body(status, "application/json", json.dumps(payload).encode())

    def send_body(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log(f"{self.address_string()} {format % args}")


def main() -> int:
    if (HERE / "CRASH").exists() or os.environ.get("SAMPLE_APP_CRASH") == "1":
        log("refusing to start: this release is marked to crash (CRASH)")
        return 1
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    server = ThreadingHTTPServer((host, port), Handler)
    # Let requests in flight finish on shutdown instead of cutting them off.
    server.daemon_threads = False

    def on_term(signum: int, frame: FrameType | None) -> None:
        log("SIGTERM received, shutting down")
        # shutdown() waits for serve_forever() to return: call it from another thread.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, on_term)
    log(f"listening on http://{host}:{port}")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
