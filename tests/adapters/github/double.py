"""A test double of GitHub's REST API on a loopback port, held to GitHub's published
description.

GitHub cannot run here, so this server plays one repository. Every request it gets
(method, path, query parameters, JSON body) is checked against ``openapi-subset.json``:
the operations Shipyard uses and every component they reach, copied from
``generated/api.github.com.json`` of the npm package ``@octokit/openapi`` 23.0.2
(``extract_subset.py``). A request no operation describes, a query parameter it does not
name or of the wrong type, or a body that does not validate is a violation: recorded in
``violations`` (tests assert there are none) and answered 422. Response bodies are the
description's own examples with the fields a test needs changed, and are checked against
the operation's response schema too. Rate limits follow GitHub's documentation ("Rate
limits for the REST API": 403/429 with ``retry-after`` or ``x-ratelimit-remaining: 0``).
With ``use_app`` it plays a GitHub App too (``app_auth.py``): ``/app`` requests need the
App's JWT, everything else an installation token it issued.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema

from .app_auth import AppAuth
from .deployments import Deployments

SPEC_PATH = Path(__file__).with_name("openapi-subset.json")
Reply = tuple[int, dict[str, str], Any]


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects as JSON Schema: ``nullable`` becomes a null branch."""
    if isinstance(node, list):
        return [_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


class Description:
    """The published operations, and checks of requests and responses against them."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        self.doc = json.loads(path.read_text())
        self.components = self.doc["components"]
        self.schemas = {"schemas": _json_schema(self.components["schemas"])}

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            _, _, section, name = node["$ref"].split("/", 3)
            node = self.components[section][name]
        return node

    def example(self, name: str) -> Any:
        return copy.deepcopy(self.components["examples"][name]["value"])

    def validate(self, instance: Any, schema: Any) -> str | None:
        full = {**_json_schema(schema), "components": self.schemas}
        try:
            jsonschema.Draft7Validator(full).validate(instance)
        except jsonschema.ValidationError as exc:
            return f"{'/'.join(map(str, exc.absolute_path)) or '(root)'}: {exc.message}"
        return None

    def operation(self, method: str, path: str) -> tuple[dict[str, Any], dict[str, str]] | None:
        for template, ops in self.doc["paths"].items():
            pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            m = re.fullmatch(pattern, path)
            if m and method.lower() in ops:
                return ops[method.lower()], {k: unquote(v) for k, v in m.groupdict().items()}
        return None

    def check_request(self, method: str, target: str, body: bytes) -> list[str]:
        url = urlsplit(target)
        where = f"{method} {url.path}"
        found = self.operation(method, url.path)
        if found is None:
            return [f"{where}: no such operation in the description"]
        op, path_params = found
        params = {p["name"]: p for p in map(self.resolve, op.get("parameters", []))}
        problems = []
        for name, value in path_params.items():
            why = self.validate(_typed(value, params[name]["schema"]), params[name]["schema"])
            if why:
                problems.append(f"{where}: path parameter {name}: {why}")
        for name, values in parse_qs(url.query, keep_blank_values=True).items():
            p = params.get(name)
            if p is None or p["in"] != "query":
                problems.append(f"{where}: query parameter {name!r} is not described")
            elif len(values) > 1 or self.validate(_typed(values[0], p["schema"]), p["schema"]):
                problems.append(f"{where}: query parameter {name}={values} is invalid")
        described = op.get("requestBody", {}).get("content", {}).get("application/json")
        if described is None and body:
            problems.append(f"{where}: a body where none is described")
        if described is not None:
            try:
                data = json.loads(body or b"null")
            except ValueError:
                return [*problems, f"{where}: the body is not JSON"]
            why = self.validate(data, described["schema"])
            if why:
                problems.append(f"{where}: request body: {why}")
        return problems

    def check_response(self, method: str, target: str, status: int, data: Any) -> list[str]:
        found = self.operation(method, urlsplit(target).path)
        assert found is not None
        response = self.resolve(found[0]["responses"].get(str(status)))
        if response is None:
            return [f"{method} {target}: HTTP {status} is not a described response"]
        content = response.get("content", {}).get("application/json")
        if content is None:
            return [] if data is None else [f"{method} {target}: {status} has no body described"]
        why = self.validate(data, content["schema"])
        return [f"{method} {target}: response body: {why}"] if why else []


def _typed(value: str, schema: dict[str, Any]) -> Any:
    if schema.get("type") == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    return value


class GitHubDouble(Deployments):
    """One repository (``owner/name``) on ``url``; ``requests`` and ``violations`` recorded.

    ``script(status, headers, body, times)`` answers the next requests so (limits, 5xx);
    ``stall(seconds, times)`` holds the next answers back (timeouts); ``expire_token()``
    makes the tokens in use answer 401 from then on; ``stop()`` and ``start()`` take the
    server down and bring it back on the same port.
    """

    def __init__(self, repository: str = "acme/web", token: str = "ghp_s3cret") -> None:
        self.repository = repository
        self.tokens = {token}
        self.description = Description()
        self.requests: list[tuple[str, str, Any]] = []
        self.violations: list[str] = []
        self.pulls: dict[int, dict[str, Any]] = {}
        self.releases: dict[str, dict[str, Any]] = {}
        self.deployments: list[dict[str, Any]] = []
        self.statuses: list[tuple[int, dict[str, Any]]] = []
        self.commit_statuses: list[tuple[str, dict[str, Any]]] = []
        self.app: AppAuth | None = None
        self._script: list[Reply] = []
        self._stalls: list[float] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> GitHubDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Down: connections to the port are refused until ``start``."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def use_app(self, app: AppAuth) -> None:
        """Authenticate as GitHub does for ``app``: JWTs on ``/app``, its tokens elsewhere."""
        self.app = app
        self.tokens = set()

    # -- what the repository holds ---------------------------------------------------

    def add_pull(self, number: int, title: str, author: str, labels: list[str]) -> None:
        pr = self.description.example("pull-request")
        pr.update(number=number, title=title, state="closed")
        # The published example's requested_teams lack "type", which its own schema requires.
        pr["requested_teams"] = []
        pr["html_url"] = f"https://github.com/{self.repository}/pull/{number}"
        pr["user"]["login"] = author
        template = pr["labels"][0]
        pr["labels"] = [{**template, "id": i + 1, "name": name} for i, name in enumerate(labels)]
        self.pulls[number] = pr

    def script(self, status: int, headers: dict[str, str], body: Any, times: int = 1) -> None:
        with self._lock:
            self._script.extend([(status, headers, body)] * times)

    def stall(self, seconds: float, times: int = 1) -> None:
        with self._lock:
            self._stalls.extend([seconds] * times)

    def expire_token(self) -> None:
        self.tokens = set()
        if self.app is not None:
            self.app.revoke()

    def sent(self, method: str | None = None) -> list[tuple[str, str, Any]]:
        return [r for r in self.requests if method is None or r[0] == method]

    # -- answering -------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        problems = self.description.check_request(method, target, raw)
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append((method, target, body))
            self.violations += problems
            scripted = self._script.pop(0) if self._script else None
            stall = self._stalls.pop(0) if self._stalls else 0.0
        time.sleep(min(stall, 5.0))
        if problems:
            return 422, {}, {"message": "Validation Failed", "errors": problems}
        if not self._authorized(urlsplit(target).path, headers):
            return 401, {}, {"message": "Bad credentials", "status": "401"}
        if scripted is not None:
            return scripted
        url = urlsplit(target)
        status, out_headers, data = self._route(
            method, url.path, parse_qs(url.query), body, headers
        )
        if status < 300:
            with self._lock:
                self.violations += self.description.check_response(method, target, status, data)
        return status, out_headers, data

    def _authorized(self, path: str, headers: dict[str, str]) -> bool:
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        if self.app is None:
            return bearer in self.tokens
        if path.startswith("/app/") or path == f"/repos/{self.repository}/installation":
            return self.app.jwt_ok(bearer)
        return self.app.token_ok(bearer)

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        headers: dict[str, str],
    ) -> Reply:
        if method == "POST" and (
            m := re.fullmatch(r"/app/installations/(\d+)/access_tokens", path)
        ):
            return self._access_token(int(m[1]), body)
        rest = path.removeprefix(f"/repos/{self.repository}")
        if rest == path:
            return 404, {}, {"message": "Not Found"}
        if method == "GET" and rest == "/installation" and self.app is not None:
            installation = self.description.example("installation")
            installation.update(id=self.app.installation_id, app_id=self.app.app_id)
            return 200, {}, installation
        if method == "GET" and rest == "/deployments":
            return self._deployments(query)
        if method == "GET" and (m := re.fullmatch(r"/deployments/(\d+)/statuses", rest)):
            return self._deployment_statuses(int(m[1]), query)
        if method == "GET" and rest == "/pulls":
            return self._list(query)
        if method == "POST" and rest == "/pulls":
            return self._open_pull(body)
        if method == "GET" and (m := re.fullmatch(r"/pulls/(\d+)", rest)):
            return self._pull(int(m[1]), headers.get("if-none-match"))
        if method == "POST" and rest == "/releases":
            return self._create_release(body)
        if method == "GET" and (m := re.fullmatch(r"/releases/tags/(.+)", rest)):
            found = self.releases.get(unquote(m[1]))
            return (200, {}, found) if found else (404, {}, {"message": "Not Found"})
        if method == "PATCH" and (m := re.fullmatch(r"/releases/(\d+)", rest)):
            return self._update_release(int(m[1]), body)
        if method == "POST" and rest == "/deployments":
            return self._deploy(body)
        if method == "POST" and (m := re.fullmatch(r"/deployments/(\d+)/statuses", rest)):
            return self._deployment_status(int(m[1]), body)
        if method == "POST" and (m := re.fullmatch(r"/statuses/([0-9a-f]+)", rest)):
            self.commit_statuses.append((m[1], body))
            status = self.description.example("status")
            status.update(state=body["state"], context=body.get("context", "default"))
            return 201, {}, status
        return 404, {}, {"message": "Not Found"}

    def _open_pull(self, body: dict[str, Any]) -> Reply:
        number = max(self.pulls, default=0) + 1
        self.add_pull(number, body["title"], "shipyard-bot", [])
        pr = self.pulls[number]
        pr.update(state="open", body=body.get("body"), merged=False, merged_at=None)
        pr["head"]["ref"], pr["base"]["ref"] = body["head"], body["base"]
        return 201, {"location": pr["url"]}, pr

    def _list(self, query: dict[str, list[str]]) -> Reply:
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        simple = self.description.example("pull-request-simple-items")[0]
        # The published example's requested_teams lack "type", which its own schema requires.
        simple["requested_teams"] = []
        ordered = [self.pulls[n] for n in sorted(self.pulls, reverse=True)]
        items = []
        for pr in ordered[(page - 1) * per_page : page * per_page]:
            item = copy.deepcopy(simple)
            for key in ("number", "title", "user", "labels", "html_url", "state"):
                item[key] = copy.deepcopy(pr[key])
            items.append(item)
        return 200, {}, items

    def _pull(self, number: int, if_none_match: str | None) -> Reply:
        pr = self.pulls.get(number)
        if pr is None:
            return 404, {}, {"message": "Not Found"}
        etag = '"' + hashlib.sha1(json.dumps(pr, sort_keys=True).encode()).hexdigest() + '"'
        if if_none_match == etag:
            return 304, {"ETag": etag}, None
        return 200, {"ETag": etag}, pr

    def _create_release(self, body: dict[str, Any]) -> Reply:
        tag = body["tag_name"]
        if tag in self.releases:
            errors = [{"resource": "Release", "code": "already_exists", "field": "tag_name"}]
            return 422, {}, {"message": "Validation Failed", "errors": errors}
        release = self.description.example("release")
        release.update(
            id=len(self.releases) + 1,
            tag_name=tag,
            name=body.get("name"),
            body=body.get("body"),
            prerelease=body.get("prerelease", False),
            target_commitish=body.get("target_commitish", "main"),
            html_url=f"https://github.com/{self.repository}/releases/tag/{tag}",
        )
        release["make_latest"] = body.get("make_latest", "true")  # kept for tests; removed below
        self.releases[tag] = release
        return 201, {}, _public(release)

    def _update_release(self, release_id: int, body: dict[str, Any]) -> Reply:
        found = next((r for r in self.releases.values() if r["id"] == release_id), None)
        if found is None:
            return 404, {}, {"message": "Not Found"}
        found.update({k: v for k, v in body.items() if k != "make_latest"})
        if body.get("make_latest") == "true":
            if found["prerelease"] or found["draft"]:
                errors = [{"resource": "Release", "code": "invalid", "field": "make_latest"}]
                return 422, {}, {"message": "Validation Failed", "errors": errors}
            for other in self.releases.values():
                other["make_latest"] = "false"
            found["make_latest"] = "true"
        return 200, {}, _public(found)

    def _access_token(self, installation_id: int, body: Any) -> Reply:
        if self.app is None or installation_id != self.app.installation_id:
            return 404, {}, {"message": "Not Found"}
        name = self.repository.split("/")[1]
        if body and body.get("repositories") not in (None, [name]):
            return 422, {}, {"message": "There is at least one repository that does not exist"}
        token, expires_at = self.app.issue()
        answer = self.description.example("installation-token")
        answer.update(token=token, expires_at=expires_at)
        return 201, {}, answer

    def latest(self) -> str | None:
        return next((t for t, r in self.releases.items() if r["make_latest"] == "true"), None)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, out_headers, data = double.answer(self.command, self.path, headers, raw)
                payload = b"" if data is None else json.dumps(data).encode()
                self.send_response(status)
                for name, value in out_headers.items():
                    self.send_header(name, value)
                if data is not None:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _public(release: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in release.items() if k != "make_latest"}
