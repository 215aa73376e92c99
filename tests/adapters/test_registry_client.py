"""The registry client's auth, retries and paging against loopback HTTP servers that answer
as the specifications describe:

- the Docker token authentication flow, https://distribution.github.io/distribution/spec/auth/token/
  (401 with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``; ``GET realm?service=
  &scope=`` with Basic credentials answers ``{"token", "expires_in", "issued_at"}``);
- tag listing pages, https://github.com/opencontainers/distribution-spec/blob/main/spec.md
  (``Link: </v2/<name>/tags/list?n=<n>&last=<last>>; rel="next"``).
Debian's registry (tests in test_artifacts_oci.py) covers Basic auth and the retag itself.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shipyard.adapters.artifacts.oci import OciArtifactStore, Retag
from shipyard.adapters.artifacts.registry_auth import RegistryAuth, RegistryError, parse_challenge
from shipyard.adapters.artifacts.registry_client import (
    OCI_MANIFEST,
    RegistryClient,
    RetryPolicy,
    digest_of,
)

MANIFEST = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}'
Handler = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


class Loopback:
    """A threaded HTTP server on 127.0.0.1 whose answers come from ``handle``."""

    def __init__(self, handle: Handler) -> None:
        outer = self
        self.seen: list[tuple[str, str, dict[str, str]]] = []

        class H(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                outer.seen.append((self.command, self.path, dict(self.headers)))
                status, headers, body = handle(self)
                self.send_response(status)
                for k, v in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_PUT = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = False
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Loopback:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def manifest_answer(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest_of(MANIFEST)}
    if req.command == "PUT":
        return 201, {"Docker-Content-Digest": digest_of(getattr(req, "body", b""))}, b""
    if req.path.endswith("/manifests/src") or req.path.endswith(digest_of(MANIFEST)):
        return 200, headers, MANIFEST
    return 404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'


# -- Bearer ----------------------------------------------------------------------------------


class TokenRegistry:
    """A registry behind the token flow: the token server checks the Basic credentials,
    ``service`` and ``scope``; the registry accepts only tokens it issued for that scope."""

    def __init__(self, expires_in: int = 300) -> None:
        self.expires_in = expires_in
        self.issued: dict[str, str] = {}  # token -> scope
        self.token_requests: list[dict[str, list[str]]] = []
        self.auth = Loopback(self._token)
        self.registry = Loopback(self._registry)

    def __enter__(self) -> TokenRegistry:
        self.auth.__enter__()
        self.registry.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.registry.__exit__()
        self.auth.__exit__()

    def _token(self, req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        query = parse_qs(urlsplit(req.path).query)
        self.token_requests.append(query)
        good = "Basic " + base64.b64encode(b"ci:t0ken-pw").decode()
        if req.headers.get("Authorization") != good:
            return 401, {}, b'{"errors":[{"code":"UNAUTHORIZED"}]}'
        assert query["service"] == ["test-registry"]
        token = f"tok{len(self.issued)}"
        self.issued[token] = query["scope"][0]
        body = {"token": token, "expires_in": self.expires_in, "issued_at": "2026-11-30T00:00:00Z"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def _registry(self, req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        action = "pull" if req.command in ("GET", "HEAD") else "pull,push"
        scope = f"repository:acme/web:{action}"
        sent = req.headers.get("Authorization", "")
        granted = self.issued.get(sent.removeprefix("Bearer "), "") if sent else ""
        actions = set(granted.rsplit(":", 1)[-1].split(",")) if granted else set()
        if not set(action.split(",")) <= actions:
            challenge = (
                f'Bearer realm="http://{self.auth.host}/token",service="test-registry",'
                f'scope="{scope}"'
            )
            return 401, {"WWW-Authenticate": challenge}, b'{"errors":[{"code":"UNAUTHORIZED"}]}'
        return manifest_answer(req)


def test_bearer_tokens_are_fetched_from_the_realm_per_scope_and_reused() -> None:
    with TokenRegistry() as reg:
        client = RegistryClient(
            reg.registry.host, insecure=True, username="ci", password="t0ken-pw"
        )
        with OciArtifactStore(client, "acme/web") as store:
            assert store.retag("src", "prod-1") == Retag(digest_of(MANIFEST), changed=True)
            assert store.retag("src", "prod-2").changed
            assert store.resolve("web", "src") == digest_of(MANIFEST)

        # One token for reading, one for writing; both reused afterwards.
        assert [q["scope"] for q in reg.token_requests] == [
            ["repository:acme/web:pull"],
            ["repository:acme/web:pull,push"],
        ]
        assert client.auth.tokens_fetched == 2
        assert client.stats.challenges == 2


def test_an_expired_token_is_fetched_again() -> None:
    now = [1000.0]
    with TokenRegistry(expires_in=60) as reg:
        client = RegistryClient(
            reg.registry.host, insecure=True, username="ci", password="t0ken-pw"
        )
        client.auth = RegistryAuth(client._http, "ci", "t0ken-pw", clock=lambda: now[0])
        with OciArtifactStore(client, "acme/web") as store:
            store.resolve("web", "src")
            store.resolve("web", "src")
            assert client.auth.tokens_fetched == 1
            now[0] += 55  # past expires_in less the renewal margin
            store.resolve("web", "src")
            assert client.auth.tokens_fetched == 2


def test_refused_token_credentials_are_one_error_that_names_no_secret() -> None:
    with TokenRegistry() as reg:
        client = RegistryClient(reg.registry.host, insecure=True, username="ci", password="nope-pw")
        store = OciArtifactStore(client, "acme/web")
        with (
            store,
            pytest.raises(RegistryError, match="token service refused the credentials") as e,
        ):
            store.resolve("web", "src")
        assert "nope-pw" not in str(e.value) and "nope-pw" not in repr(client.auth)
        assert e.value.status == 502


@pytest.mark.parametrize(
    ("header", "scheme", "params"),
    [
        (
            'Bearer realm="https://auth.example.com/token",service="reg",scope="repository:a/b:pull,push"',
            "bearer",
            {
                "realm": "https://auth.example.com/token",
                "service": "reg",
                "scope": "repository:a/b:pull,push",
            },
        ),
        ('Basic realm="registry"', "basic", {"realm": "registry"}),
        ("Basic", "basic", {}),
        ('bearer realm="a\\"b", service=plain', "bearer", {"realm": 'a"b', "service": "plain"}),
    ],
)
def test_challenges_are_parsed(header: str, scheme: str, params: dict[str, str]) -> None:
    got = parse_challenge(header)
    assert got is not None and (got.scheme, got.params) == (scheme, params)
    assert parse_challenge("") is None


# -- retries and errors ----------------------------------------------------------------------


def scripted(answers: list[tuple[int, dict[str, str]]]) -> Handler:
    """The scripted answers first (to any request), then the real ones."""
    lock = threading.Lock()

    def handle(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        with lock:
            if answers:
                status, headers = answers.pop(0)
                return status, headers, b'{"errors":[{"code":"UNAVAILABLE"}]}'
        return manifest_answer(req)

    return handle


def test_5xx_and_429_are_retried_honouring_retry_after() -> None:
    slept: list[float] = []
    answers = [(500, {}), (429, {"Retry-After": "2"}), (503, {}), (502, {})]
    with Loopback(scripted(answers)) as server:
        client = RegistryClient(server.host, insecure=True, sleep=slept.append)
        with OciArtifactStore(client, "acme/web") as store:
            assert store.retag("src", "prod-1").changed

    assert client.stats.retried == 4
    assert client.stats.statuses[500] == 1 and client.stats.statuses[429] == 1
    assert slept[1] == 2.0  # what Retry-After asked
    assert all(0 < s <= client.retry.cap for s in slept)


def test_retries_are_bounded_and_end_in_one_readable_error() -> None:
    answers = [(500, {})] * 3
    with Loopback(scripted(answers)) as server:
        client = RegistryClient(
            server.host, insecure=True, retry=RetryPolicy(attempts=3), sleep=lambda s: None
        )
        store = OciArtifactStore(client, "acme/web")
        with store, pytest.raises(RegistryError, match=r"acme/web:src: the registry answered 500$"):
            store.resolve("web", "src")
    assert client.stats.requests == 3


def test_connection_errors_are_retried_then_reported_as_a_registry_error() -> None:
    with Loopback(manifest_answer) as server:
        host = server.host
    # The server is gone: every attempt fails to connect.
    client = RegistryClient(
        host, insecure=True, retry=RetryPolicy(attempts=3), sleep=lambda s: None
    )
    store = OciArtifactStore(client, "acme/web")
    with (
        store,
        pytest.raises(
            RegistryError, match=rf"cannot reach the registry {host} \(Connect\w+, 3 tries\)"
        ),
    ):
        store.retag("src", "prod-1")
    assert client.stats.connection_errors == 3


def test_a_registry_that_stores_another_digest_is_an_error() -> None:
    def handle(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if req.command == "PUT":
            return 201, {"Docker-Content-Digest": "sha256:" + "0" * 64}, b""
        return manifest_answer(req)

    with (
        Loopback(handle) as server,
        OciArtifactStore(RegistryClient(server.host, insecure=True), "acme/web") as store,
        pytest.raises(RegistryError, match="the registry stored sha256:0000000000"),
    ):
        store.retag("src", "prod-1")


# -- tag pages -------------------------------------------------------------------------------


@pytest.fixture
def paged() -> Iterator[Loopback]:
    tags = [f"t{i:02}" for i in range(7)]

    def handle(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(req.path)
        if not url.path.endswith("/tags/list"):
            return manifest_answer(req)
        q = parse_qs(url.query)
        n, last = int(q["n"][0]), q.get("last", [""])[0]
        page = [t for t in tags if t > last][:n]
        headers = {"Content-Type": "application/json"}
        if page and page[-1] != tags[-1]:
            headers["Link"] = f'</v2/acme/web/tags/list?n={n}&last={page[-1]}>; rel="next"'
        return 200, headers, json.dumps({"name": "acme/web", "tags": page}).encode()

    with Loopback(handle) as server:
        yield server


def test_tags_follow_link_pages(paged: Loopback) -> None:
    client = RegistryClient(paged.host, insecure=True)
    try:
        assert client.list_tags("acme/web", page_size=3) == [f"t{i:02}" for i in range(7)]
    finally:
        client.close()
    assert [p for m, p, _ in paged.seen] == [
        "/v2/acme/web/tags/list?n=3",
        "/v2/acme/web/tags/list?n=3&last=t02",
        "/v2/acme/web/tags/list?n=3&last=t05",
    ]
