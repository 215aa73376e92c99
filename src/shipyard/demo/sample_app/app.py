"""A tiny web app to deploy with Shipyard (stdlib only).

Run it from an artifact directory, next to its ``version.json``::

    PORT=8000 python app.py

Routes: ``/`` (a page showing the app, version and commit), ``/__heartbeat__``
and ``/__lbheartbeat__`` (``{"status": "ok"}``), ``/__version__`` (the contents
of ``version.json``), ``/metrics`` (Prometheus text format: ``http_requests_total``
by ``status`` and the ``http_request_duration_seconds`` histogram).

To play a bad release: a ``CRASH`` file next to this script (or
``SAMPLE_APP_CRASH=1``) makes it exit 1 at start; an ``UNHEALTHY`` file makes
``/__heartbeat__`` answer 500 for as long as it exists; an ``ERROR_RATE`` file holding a
fraction (``0.3``) makes that share of the requests to ``/`` answer 500.
"""

from __future__ import annotations

import html
import json
import os
import signal
import sys
import threading
import time
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


BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """Requests by status and their durations, in Prometheus text format."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_status: dict[int, int] = {}
        self.buckets = [0] * len(BUCKETS)
        self.count, self.total = 0, 0.0
        self.pages = 0  # requests to "/", for ERROR_RATE

    def record(self, status: int, seconds: float) -> None:
        with self.lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1
            for i, le in enumerate(BUCKETS):
                if seconds <= le:
                    self.buckets[i] += 1
            self.count += 1
            self.total += seconds

    def next_page_fails(self, rate: float) -> bool:
        """Whether this request to "/" answers 500: every so often, ``rate`` of them."""
        with self.lock:
            self.pages += 1
            return int(self.pages * rate) != int((self.pages - 1) * rate)

    def text(self) -> str:
        with self.lock:
            lines = ["# TYPE http_requests_total counter"]
            lines += [f'http_requests_total{{status="{s}"}} {n}' for s, n in self.by_status.items()]
            lines.append("# TYPE http_request_duration_seconds histogram")
            for le, n in zip(BUCKETS, self.buckets, strict=True):
                lines.append(f'http_request_duration_seconds_bucket{{le="{le}"}} {n}')
            lines.append(f'http_request_duration_seconds_bucket{{le="+Inf"}} {self.count}')
            lines.append(f"http_request_duration_seconds_sum {self.total}")
            lines.append(f"http_request_duration_seconds_count {self.count}")
        return "\n".join(lines) + "\n"


METRICS = Metrics()


def error_rate() -> float:
    try:
        return min(1.0, max(0.0, float((HERE / "ERROR_RATE").read_text().strip())))
    except (OSError, ValueError):
        return 0.0


class Handler(BaseHTTPRequestHandler):
    server_version = "sample-app"
    status = 0

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            body = METRICS.text().encode()
            self.send_body(200, "text/plain; version=0.0.4", body)
            return
        started = time.perf_counter()
        self.route(path)
        METRICS.record(self.status, time.perf_counter() - started)

    def route(self, path: str) -> None:
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
            rate = error_rate()
            if rate and METRICS.next_page_fails(rate):
                self.send_json(500, {"error": "failing on purpose (ERROR_RATE)"})
            else:
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
        self.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.path != "/metrics":
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
