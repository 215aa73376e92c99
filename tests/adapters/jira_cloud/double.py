"""A Jira Cloud test double: a real HTTP server on 127.0.0.1 that checks every request
and every answer against the subset of Jira's published REST v3 description kept in
``openapi_subset.json`` (its provenance is in the file). A request to a path or method
the description does not have, or a body that does not validate, is answered 400 and
recorded in ``violations``; tests assert there are none.

    with FakeJira({"MNTOR-1": "In QA"}) as jira:
        JiraClient(jira.url, user="qa@example.com", token="t").statuses(["MNTOR-1"])
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC = json.loads((Path(__file__).parent / "openapi_subset.json").read_text())
_REGISTRY = Registry().with_resource("spec", DRAFT202012.create_resource(SPEC))
ROUTES = [
    (re.compile("^" + re.sub(r"\{[^}]+\}", "(?P<key>[^/]+)", path) + "$"), ops)
    for path, ops in SPEC["paths"].items()
]
WORKFLOW = {  # transition name -> status it leads to
    "Start QA": "In QA",
    "Pass QA": "QA Verified",
    "Fail QA": "QA Failed",
    "Released": "Done",
}


def check(schema_name: str, value: Any) -> list[str]:
    schema = {"$ref": f"spec#/components/schemas/{schema_name}"}
    validator = Draft202012Validator(schema, registry=_REGISTRY)
    return [f"{schema_name}: {e.message}" for e in validator.iter_errors(value)]


class FakeJira:
    """Issues (key -> status name), a workflow open from every status, scripted faults."""

    def __init__(
        self,
        issues: dict[str, str],
        *,
        user: str = "qa@example.com",
        token: str = "s3cret-token",
        page: int = 100,
    ) -> None:
        self.issues = dict(issues)
        self.auth = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        self.page = page
        self.requests: list[tuple[str, str, Any]] = []
        self.comments: dict[str, list[Any]] = {}
        self.violations: list[str] = []
        self.faults: list[tuple[int, dict[str, str]]] = []  # answered first, in order
        # (path suffix, status, headers): the next request whose path ends so gets it
        self.path_faults: list[tuple[str, int, dict[str, str]]] = []
        self.delay = 0.0  # seconds every answer waits (a client's timeout)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeJira:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def searches(self) -> list[Any]:
        return [body for method, path, body in self.requests if path.endswith("/search/jql")]

    # -- answering ---------------------------------------------------------------------------

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.requests.append((method, path, body))
            if self.faults:
                status, extra = self.faults.pop(0)
                return status, extra, {"errorMessages": ["scripted"], "errors": {}}
            for i, (suffix, status, extra) in enumerate(self.path_faults):
                if path.endswith(suffix):
                    del self.path_faults[i]
                    return status, extra, {"errorMessages": ["scripted"], "errors": {}}
        if headers.get("authorization") != self.auth:
            return 401, {}, {"errorMessages": ["unauthorized"], "errors": {}}
        for pattern, ops in ROUTES:
            m = pattern.match(path)
            if m and method.lower() in ops:
                op = ops[method.lower()]
                if op.get("request"):
                    self._violate(check(op["request"], body))
                status, reply = getattr(self, op["operationId"])(m.groupdict().get("key"), body)
                schema = op["responses"].get(str(status))
                if schema:
                    self._violate(check(schema, reply))
                elif str(status) not in op["responses"]:
                    self._violate([f"{op['operationId']}: status {status} not described"])
                return status, {}, reply
        self._violate([f"{method} {path}: not in Jira's description"])
        return 404, {}, {"errorMessages": ["no such resource"], "errors": {}}

    def _violate(self, errors: list[str]) -> None:
        with self._lock:
            self.violations.extend(errors)

    def searchAndReconsileIssuesUsingJqlPost(self, _key: Any, body: Any) -> tuple[int, Any]:
        m = re.fullmatch(r"key in \(([^)]*)\)", body["jql"])
        keys = [k.strip() for k in m.group(1).split(",")] if m else []
        gone = [k for k in keys if k not in self.issues]
        if gone:  # what Jira says of a key in a JQL clause that no issue has
            msgs = [f"An issue with key '{k}' does not exist for field 'key'." for k in gone]
            return 400, {"errorMessages": msgs, "errors": {}}
        start = int(body.get("nextPageToken") or 0)
        size = min(self.page, body.get("maxResults", 50))
        chunk = keys[start : start + size]
        issues = [
            {"id": str(10000 + i), "key": k, "fields": {"status": {"name": self.issues[k]}}}
            for i, k in enumerate(chunk)
        ]
        reply: dict[str, Any] = {"issues": issues, "isLast": start + size >= len(keys)}
        if not reply["isLast"]:
            reply["nextPageToken"] = str(start + size)
        return 200, reply

    def getTransitions(self, key: str, _body: Any) -> tuple[int, Any]:
        if key not in self.issues:
            return 404, {
                "errorMessages": ["Issue does not exist or you do not have permission to see it."],
                "errors": {},
            }
        ts = [
            {"id": str(11 + i), "name": n, "to": {"name": to, "id": str(3 + i)}}
            for i, (n, to) in enumerate(WORKFLOW.items())
        ]
        return 200, {"transitions": ts}

    def doTransition(self, key: str, body: Any) -> tuple[int, Any]:
        if key not in self.issues:
            return 404, {"errorMessages": ["Issue does not exist"], "errors": {}}
        names = list(WORKFLOW.values())
        self.issues[key] = names[int(body["transition"]["id"]) - 11]
        return 204, None

    def addComment(self, key: str, body: Any) -> tuple[int, Any]:
        if key not in self.issues:
            return 404, {"errorMessages": ["Issue does not exist"], "errors": {}}
        self.comments.setdefault(key, []).append(body["body"])
        return 201, {"id": "10000", "body": body["body"]}


def _handler(owner: FakeJira) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, reply = owner.answer(self.command, self.path, headers, body)
            data = b"" if reply is None else json.dumps(reply).encode()
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
