"""A test double of Argo CD's API on a loopback port, held to Argo CD's published description.

Argo CD cannot run here, so this server plays one application. Every request it
gets (method, path, query parameters, JSON body) and every response body it sends
is checked against ``swagger-subset.json``: the operations ``Get`` and ``Sync`` and
their definitions, copied from ``assets/swagger.json`` of argoproj/argo-cd at
commit 0011ce1eebf10bcf1b3aebaa5bf3f51ee9afe11f. Objects are checked strictly:
a field the description does not name is a violation too. Violations are
collected in ``violations`` (a test asserts there are none) and answered 400.

``behaviour`` is what the application does after a sync of a revision:
``healthy`` (Running, then Synced, Healthy, Succeeded), ``degraded`` (synced, but
Degraded) or ``never`` (the sync never starts: OutOfSync, Running forever).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema

SPEC_PATH = Path(__file__).with_name("swagger-subset.json")


def _strict(schema: Any) -> Any:
    """Every object schema with properties refuses fields it does not name."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


class Description:
    """The published operations and definitions, and checks against them."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        self.doc = json.loads(path.read_text())
        self.definitions = _strict(self.doc["definitions"])

    def _validate(self, instance: Any, schema: dict[str, Any]) -> str | None:
        full = {**schema, "definitions": self.definitions}
        try:
            jsonschema.Draft4Validator(full).validate(instance)
        except jsonschema.ValidationError as exc:
            return f"{'/'.join(map(str, exc.absolute_path))}: {exc.message}"
        return None

    def operation(self, method: str, path: str) -> tuple[dict[str, Any], dict[str, str]] | None:
        """The operation a request names, and its path parameters; None if none does."""
        for template, ops in self.doc["paths"].items():
            pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            m = re.fullmatch(pattern, path)
            if m and method.lower() in ops:
                return ops[method.lower()], {k: unquote(v) for k, v in m.groupdict().items()}
        return None

    def check_request(self, method: str, target: str, body: bytes) -> list[str]:
        url = urlsplit(target)
        found = self.operation(method, url.path)
        if found is None:
            return [f"{method} {url.path}: no such operation in the description"]
        op, _ = found
        params = {p["name"]: p for p in op.get("parameters", [])}
        problems = []
        for name, values in parse_qs(url.query, keep_blank_values=True).items():
            p = params.get(name)
            if p is None or p["in"] != "query":
                problems.append(f"{method} {url.path}: query parameter {name!r} is not described")
            elif p["type"] != "array" and len(values) > 1:
                problems.append(f"{method} {url.path}: {name!r} given {len(values)} times")
        body_param = next((p for p in params.values() if p["in"] == "body"), None)
        if body_param is None and body:
            problems.append(f"{method} {url.path}: a body where none is described")
        if body_param is not None:
            try:
                data = json.loads(body or b"null")
            except ValueError:
                return [*problems, f"{method} {url.path}: the body is not JSON"]
            why = self._validate(data, body_param["schema"])
            if why:
                problems.append(f"{method} {url.path}: request body: {why}")
        return problems

    def check_response(self, method: str, target: str, status: int, data: Any) -> list[str]:
        found = self.operation(method, urlsplit(target).path)
        assert found is not None
        response = found[0]["responses"].get(str(status))
        if response is None:
            return [f"{method} {target}: HTTP {status} is not a described response"]
        why = self._validate(data, response["schema"])
        return [f"{method} {target}: response body: {why}"] if why else []


class ArgoDouble:
    """One Argo CD application on ``url``; ``requests`` and ``violations`` are recorded."""

    def __init__(self, application: str, behaviour: str = "healthy", token: str = "t0ken") -> None:
        self.application = application
        self.behaviour = behaviour
        self.token = token
        self.description = Description()
        self.requests: list[tuple[str, str, Any]] = []
        self.violations: list[str] = []
        self.revision = "0" * 40  # what it runs
        self.target: str | None = None  # what it was asked to sync
        self.reads_since_sync = 0
        self.refreshes = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ArgoDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # -- the application ---------------------------------------------------------

    def application_body(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "sync": {"revision": self.revision, "status": "Synced"},
            "health": {"status": "Healthy"},
            "operationState": {"phase": "Succeeded", "syncResult": {"revision": self.revision}},
            "summary": {"images": ["127.0.0.1:5000/acme/web"]},
            "reconciledAt": {"seconds": "1725148800", "nanos": 0},
        }
        if self.target is not None:
            running = {
                "phase": "Running",
                "message": "waiting for healthy state of apps/Deployment/web",
            }
            if self.behaviour == "never":
                status["sync"]["status"] = "OutOfSync"
                status["operationState"] = running
            elif self.reads_since_sync < 2:
                status["sync"] = {"revision": self.target, "status": "OutOfSync"}
                status["health"] = {"status": "Progressing"}
                status["operationState"] = {**running, "syncResult": {"revision": self.target}}
            else:
                self.revision = self.target
                status["sync"]["revision"] = self.target
                status["operationState"]["syncResult"]["revision"] = self.target
                if self.behaviour == "degraded":
                    status["health"] = {
                        "status": "Degraded",
                        "message": "Deployment web exceeded its progress deadline",
                    }
        return {
            "metadata": {"name": self.application, "namespace": "argocd", "resourceVersion": "7"},
            "spec": {
                "project": "default",
                "source": {
                    "repoURL": "file:///deploy.git",
                    "path": "k8s/prod",
                    "targetRevision": "main",
                },
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
            },
            "status": status,
        }

    def _respond(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        path = urlsplit(target).path
        query = parse_qs(urlsplit(target).query)
        with self._lock:
            if method == "POST" and path.endswith("/sync"):
                self.target = body.get("revision") or self.revision
                self.reads_since_sync = 0
            elif method == "GET":
                self.refreshes += "refresh" in query
                if self.target is not None and "refresh" not in query:
                    self.reads_since_sync += 1
            return 200, self.application_body()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                problems = double.description.check_request(self.command, self.path, raw)
                body = json.loads(raw) if raw and not problems else None
                double.requests.append((self.command, self.path, body))
                if self.headers.get("Authorization") != f"Bearer {double.token}":
                    self._send(401, None)
                    return
                found = double.description.operation(self.command, urlsplit(self.path).path)
                if found and found[1].get("name") != double.application:
                    problems.append(f"{self.command} {self.path}: unknown application")
                if problems:
                    double.violations.extend(problems)
                    self._send(400, None)
                    return
                status, data = double._respond(self.command, self.path, body)
                double.violations.extend(
                    double.description.check_response(
                        self.command, self.path, status, copy.deepcopy(data)
                    )
                )
                self._send(status, data)

            def _send(self, status: int, data: Any) -> None:
                payload = b"" if data is None else json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

        return Handler
