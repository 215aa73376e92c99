"""A small client of the OCI distribution API (``/v2/``) on httpx: manifests and tags.

    client = RegistryClient("127.0.0.1:5000", insecure=True)
    m = client.get_manifest("acme/web", "abc1234")        # Manifest | None
    client.put_manifest("acme/web", "prod-2024.09.01", m)  # the exact bytes; returns the digest

Only what promotion needs: manifests by tag or digest (GET, HEAD, PUT, DELETE) and the
tag list (following ``Link`` pages). The spec:
https://github.com/opencontainers/distribution-spec/blob/main/spec.md

Every request is retried with exponential backoff (bounded) on a connection error, a 5xx
and 429 (honouring ``Retry-After``): Debian's distribution 2.8.2 answers some concurrent
manifest requests with 500. Auth follows the registry's challenge (``registry_auth``).
httpx's exceptions become ``RegistryError``; none leave this module.
"""

from __future__ import annotations

import email.utils
import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from shipyard.adapters.artifacts import ArtifactError
from shipyard.adapters.artifacts.registry_auth import RegistryAuth, RegistryError
from shipyard.errors import NotFound

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
ACCEPT = ", ".join(MANIFEST_TYPES)
MAX_MANIFEST = 4 * 1024 * 1024  # what distribution itself accepts
MAX_TAG_PAGES = 1000


@dataclass(frozen=True)
class Manifest:
    """A manifest or index exactly as the registry stored it."""

    digest: str  # sha256 of ``body``
    media_type: str
    body: bytes


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``attempts`` tries; waits ``base * 2**n`` (with jitter) up to ``cap`` seconds,
    or what ``Retry-After`` says, up to ``retry_after_cap``."""

    attempts: int = 8
    base: float = 0.02
    cap: float = 2.0
    retry_after_cap: float = 30.0


@dataclass
class RegistryStats:
    """What a client saw, for tests and benchmarks: answers by status, retries, errors."""

    requests: int = 0
    retried: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    connection_errors: int = 0
    challenges: int = 0  # 401 answers that were answered with credentials and sent again
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def saw(self, status: int | None, retry: bool) -> None:
        with self._lock:
            self.requests += 1
            if status is None:
                self.connection_errors += 1
            else:
                self.statuses[status] = self.statuses.get(status, 0) + 1
            self.retried += retry

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s >= 500)


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _scope_action(method: str) -> str:
    return {"GET": "pull", "HEAD": "pull", "DELETE": "delete"}.get(method, "push")


class RegistryClient:
    """One registry (``host[:port]``), over HTTPS unless ``insecure``."""

    def __init__(
        self,
        registry: str,
        *,
        insecure: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.registry = registry
        self.base = f"{'http' if insecure else 'https'}://{registry}"
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)
        self.auth = RegistryAuth(self._http, username, password)
        self.retry = retry or RetryPolicy()
        self.stats = RegistryStats()
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"RegistryClient({self.base!r})"

    def close(self) -> None:
        self._http.close()

    # -- manifests ---------------------------------------------------------------------------

    def head_manifest(self, repo: str, ref: str) -> str | None:
        """The digest ``ref`` (a tag or digest) names, or None when there is no such manifest."""
        resp = self._request("HEAD", repo, f"manifests/{ref}", headers={"Accept": ACCEPT})
        if resp.status_code == 404:
            return None
        self._expect(resp, (200,), repo, ref)
        digest = str(resp.headers.get("Docker-Content-Digest", ""))
        if digest:
            return digest
        # A registry may leave the header out of HEAD answers: read the manifest then.
        got = self.get_manifest(repo, ref)
        return got.digest if got is not None else None

    def get_manifest(self, repo: str, ref: str) -> Manifest | None:
        resp = self._request("GET", repo, f"manifests/{ref}", headers={"Accept": ACCEPT})
        if resp.status_code == 404:
            return None
        self._expect(resp, (200,), repo, ref)
        body = resp.content
        if len(body) > MAX_MANIFEST:
            raise RegistryError(f"{repo}:{ref}: a manifest over {MAX_MANIFEST} bytes")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            raise ArtifactError(f"{repo}:{ref} is not an image manifest or index ({media_type})")
        digest = digest_of(body)
        said = resp.headers.get("Docker-Content-Digest")
        if said and said.startswith("sha256:") and said != digest:
            raise RegistryError(f"{repo}:{ref}: the manifest does not match its digest")
        if ref.startswith("sha256:") and ref != digest:
            raise RegistryError(f"{repo}@{ref}: the registry sent another manifest")
        return Manifest(digest, media_type, body)

    def put_manifest(self, repo: str, tag: str, manifest: Manifest) -> str:
        """Store ``manifest``'s exact bytes under ``tag``; the digest the registry reports."""
        resp = self._request(
            "PUT",
            repo,
            f"manifests/{tag}",
            headers={"Content-Type": manifest.media_type},
            content=manifest.body,
        )
        self._expect(resp, (200, 201), repo, tag)
        return str(resp.headers.get("Docker-Content-Digest", ""))

    def delete_manifest(self, repo: str, digest: str) -> bool:
        """Delete the manifest ``digest`` (and so every tag naming it); False if it was gone."""
        resp = self._request("DELETE", repo, f"manifests/{digest}")
        if resp.status_code == 404:
            return False
        if resp.status_code == 405:
            raise ArtifactError(f"the registry {self.registry} does not allow deleting manifests")
        self._expect(resp, (200, 202), repo, digest)
        return True

    def list_tags(self, repo: str, page_size: int = 1000) -> list[str]:
        """Every tag of ``repo``, following ``Link: <...>; rel="next"`` pages (bounded)."""
        return [t for page in self._tag_pages(repo, page_size) for t in page]

    def _tag_pages(self, repo: str, page_size: int) -> Iterator[list[str]]:
        path: str | None = f"tags/list?n={page_size}"
        for _ in range(MAX_TAG_PAGES):
            if path is None:
                return
            resp = self._request("GET", repo, path)
            if resp.status_code == 404:
                return
            self._expect(resp, (200,), repo, "tags")
            try:
                tags = resp.json().get("tags") or []
            except (ValueError, AttributeError):
                raise RegistryError(f"{repo}: the tag list is not JSON") from None
            yield [t for t in tags if isinstance(t, str)]
            path = self._next_page(resp, repo)
        raise RegistryError(f"{repo}: more than {MAX_TAG_PAGES} pages of tags")

    def _next_page(self, resp: httpx.Response, repo: str) -> str | None:
        nxt = resp.links.get("next", {}).get("url")
        if not nxt:
            return None
        url = urljoin(f"{self.base}/v2/{repo}/tags/list", nxt)
        prefix = f"{self.base}/v2/{repo}/"
        if not url.startswith(prefix):
            raise RegistryError(f"{repo}: the tag list links outside the repository")
        return url[len(prefix) :]

    # -- sending -----------------------------------------------------------------------------

    def _expect(self, resp: httpx.Response, ok: tuple[int, ...], repo: str, ref: str) -> None:
        if resp.status_code in ok:
            return
        where = f"{self.registry}/{repo}:{ref}"
        if resp.status_code == 401:
            raise RegistryError(f"{where}: the registry refused the credentials")
        if resp.status_code == 403:
            raise RegistryError(f"{where}: the registry denies this ({resp.status_code})")
        if resp.status_code == 404:
            raise NotFound(f"{where}: not in the registry")
        codes = _error_codes(resp)
        said = f" ({', '.join(codes)})" if codes else ""
        if 400 <= resp.status_code < 500:
            raise ArtifactError(f"{where}: the registry answered {resp.status_code}{said}")
        raise RegistryError(f"{where}: the registry answered {resp.status_code}{said}")

    def _request(
        self,
        method: str,
        repo: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send with auth, retrying connection errors, 5xx and 429 (bounded)."""
        url = f"{self.base}/v2/{repo}/{path}"
        key = (repo, _scope_action(method))
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            try:
                resp = self._send_authed(method, url, key, headers or {}, content)
            except httpx.TransportError as exc:
                self.stats.saw(None, not last)
                if last:
                    raise RegistryError(
                        f"cannot reach the registry {self.registry}"
                        f" ({type(exc).__name__}, {self.retry.attempts} tries)"
                    ) from None
                self._sleep(self._backoff(attempt))
                continue
            retry = resp.status_code == 429 or resp.status_code >= 500
            self.stats.saw(resp.status_code, retry and not last)
            if not retry or last:
                return resp
            self._sleep(self._retry_after(resp) or self._backoff(attempt))
        raise AssertionError("unreachable")  # the last attempt always returns or raises

    def _send_authed(
        self,
        method: str,
        url: str,
        key: tuple[str, str],
        headers: dict[str, str],
        content: bytes | None,
    ) -> httpx.Response:
        sent = self.auth.header(key)
        resp = self._send(method, url, headers, content, sent)
        if resp.status_code != 401:
            return resp
        better = self.auth.answer(resp.headers.get("WWW-Authenticate"), key, sent)
        if better is None:
            return resp
        with self.stats._lock:
            self.stats.challenges += 1
        return self._send(method, url, headers, content, better)

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        authorization: str | None,
    ) -> httpx.Response:
        h = dict(headers)
        if authorization is not None:
            h["Authorization"] = authorization
        resp = self._http.request(method, url, headers=h, content=content)
        resp.read()
        return resp

    def _backoff(self, attempt: int) -> float:
        delay: float = min(self.retry.cap, self.retry.base * (2**attempt))
        return delay * (0.5 + random.random() / 2)

    def _retry_after(self, resp: httpx.Response) -> float | None:
        value = resp.headers.get("Retry-After")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (ValueError, TypeError):
                return None
        return max(0.0, min(self.retry.retry_after_cap, seconds))


def _error_codes(resp: httpx.Response) -> list[str]:
    try:
        errors = resp.json().get("errors") or []
        return [str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code")]
    except (ValueError, AttributeError):
        return []
