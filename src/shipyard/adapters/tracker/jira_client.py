"""A small client of Jira's REST API on httpx: statuses by JQL, transitions, comments.

    client = JiraClient("https://acme.atlassian.net", user="me@example.com", token="...")
    client.statuses(["MNTOR-1", "MNTOR-2"])        # {"MNTOR-1": "QA Verified"}; gone keys absent
    client.transition("MNTOR-1", ["QA Verified"])  # the transition named so (or leading there)
    client.comment("MNTOR-1", "Released in 2024.09.01")

Jira Cloud (``user`` set: email + API token, Basic auth) is read through REST v3's
enhanced search, ``POST /rest/api/3/search/jql`` (pages linked by ``nextPageToken``);
Server and Data Center (no ``user``: the token is a personal access token, sent as a
bearer token) through ``POST /rest/api/2/search`` (pages by ``startAt``). Keys go 100 to
a request. A 429 is retried after its ``Retry-After``, a 5xx or a connection error with
backoff, both bounded. httpx's exceptions become ``JiraError``; none leave this module.
API reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from shipyard.errors import NotFound, ShipyardError

BATCH = 100  # keys per search request (and Jira's largest page of issues)
MAX_PAGES = 1000
_GONE = re.compile(r"An issue with key '([^']+)' does not exist", re.IGNORECASE)


class JiraError(ShipyardError):
    """Jira could not be reached or answered with an error. ``retryable``: the same call
    may succeed later (no answer, 429, 5xx); ``retry_after``: the wait a 429 asked for."""

    status = 502
    code = "tracker"

    def __init__(
        self, message: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable, self.retry_after = retryable, retry_after


@dataclass(frozen=True)
class Retry:
    """At most ``attempts`` tries; ``base * 2**n`` seconds between them, or what
    ``Retry-After`` says, up to ``cap``."""

    attempts: int = 5
    base: float = 0.2
    cap: float = 30.0


class JiraClient:
    """One Jira site. Cloud when ``user`` is given, else Server/Data Center."""

    def __init__(
        self,
        url: str,
        *,
        token: str,
        user: str | None = None,
        timeout: float = 10.0,
        retry: Retry | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.cloud = user is not None
        self.api = f"{self.url}/rest/api/{'3' if self.cloud else '2'}"
        auth: httpx.Auth | None = httpx.BasicAuth(user, token) if user is not None else None
        headers = {"Accept": "application/json"}
        if user is None:
            headers["Authorization"] = f"Bearer {token}"
        # Made at the first request: a client costs tens of ms (its TLS context), and a page
        # whose statuses are all cached never sends one.
        self._made: httpx.Client | None = None
        self._make: Callable[[], httpx.Client] = lambda: httpx.Client(
            auth=auth, headers=headers, timeout=timeout, transport=transport
        )
        self.retry = retry or Retry()
        self._sleep = sleep
        self.requests = 0  # for tests and benchmarks

    def __repr__(self) -> str:  # never the token
        return f"JiraClient({self.url!r})"

    @property
    def _http(self) -> httpx.Client:
        if self._made is None:
            self._made = self._make()
        return self._made

    def close(self) -> None:
        if self._made is not None:
            self._made.close()
            self._made = None

    # -- reads -------------------------------------------------------------------------------

    def statuses(self, keys: Iterable[str]) -> dict[str, str]:
        """The status name of each of ``keys`` Jira has; a deleted or invisible key is absent."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, str] = {}
        for i in range(0, len(wanted), BATCH):
            out.update(self._batch(wanted[i : i + BATCH]))
        return out

    def _batch(self, keys: list[str]) -> dict[str, str]:
        # JQL refuses the whole query when one key does not exist (a deleted ticket):
        # drop the keys Jira names and ask again, at most once per key.
        for _ in range(len(keys) + 1):
            if not keys:
                return {}
            jql = f"key in ({', '.join(keys)})"
            resp, gone = self._search_all(jql)
            if not gone:
                return {k: v for k, v in resp.items() if k in set(keys)}
            keys = [k for k in keys if k.upper() not in gone]
        raise JiraError("Jira kept refusing the ticket search")

    def _search_all(self, jql: str) -> tuple[dict[str, str], set[str]]:
        found: dict[str, str] = {}
        token: str | int | None = None
        for _ in range(MAX_PAGES):
            resp = self._request(
                "POST",
                "/search" + ("/jql" if self.cloud else ""),
                json=self._search_body(jql, token),
            )
            if resp.status_code == 400:
                gone = {m.upper() for m in _GONE.findall(resp.text)}
                if gone:
                    return {}, gone
            data = self._json(resp, "search")
            for issue in data.get("issues") or []:
                status = ((issue.get("fields") or {}).get("status") or {}).get("name")
                found[str(issue.get("key", "")).upper()] = str(status) if status else ""
            token = self._next(data, token)
            if token is None:
                return found, set()
        raise JiraError(f"Jira: more than {MAX_PAGES} pages of search results")

    def _search_body(self, jql: str, token: str | int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"jql": jql, "fields": ["status"], "maxResults": BATCH}
        if self.cloud:
            if token is not None:
                body["nextPageToken"] = token
        else:
            body["startAt"] = token or 0
        return body

    def _next(self, data: dict[str, Any], token: str | int | None) -> str | int | None:
        if self.cloud:
            nxt = data.get("nextPageToken")
            return None if data.get("isLast", nxt is None) or not nxt else str(nxt)
        start, count = int(token or 0), len(data.get("issues") or [])
        total = int(data.get("total", 0))
        return start + count if count and start + count < total else None

    def transitions(self, key: str) -> list[dict[str, Any]]:
        """The transitions open to ``key`` now: ``[{"id", "name", "to": {"name"}}]``."""
        resp = self._request("GET", f"/issue/{key}/transitions")
        if resp.status_code == 404:
            raise NotFound(f"{key}: not found in Jira")
        return list(self._json(resp, f"{key}: transitions").get("transitions") or [])

    # -- writes ------------------------------------------------------------------------------

    def transition(self, key: str, names: Sequence[str]) -> str:
        """Apply the transition named one of ``names`` (or leading to a status so named), by
        the id Jira gives it now; return its name. JiraError when none is open."""
        wanted = [n.casefold() for n in names]
        options = self.transitions(key)
        for name in wanted:
            for t in options:
                to = str((t.get("to") or {}).get("name", ""))
                if name in (str(t.get("name", "")).casefold(), to.casefold()):
                    resp = self._request(
                        "POST", f"/issue/{key}/transitions", json={"transition": {"id": t["id"]}}
                    )
                    self._expect(resp, (204,), f"{key}: transition {t.get('name')!r}")
                    return str(t.get("name"))
        open_ = ", ".join(repr(str(t.get("name"))) for t in options) or "none"
        raise JiraError(
            f"{key}: no Jira transition named {' or '.join(map(repr, names))} (open: {open_})"
        )

    def comment(self, key: str, text: str, *, link: str | None = None) -> None:
        """Add a comment; ``link`` follows the text (a link mark in Cloud's ADF)."""
        body: Any = f"{text} {link}" if link else text
        if self.cloud:  # REST v3 takes Atlassian Document Format
            content: list[dict[str, Any]] = [{"type": "text", "text": text}]
            if link:
                mark = {"type": "link", "attrs": {"href": link}}
                content += [
                    {"type": "text", "text": " "},
                    {"type": "text", "text": link, "marks": [mark]},
                ]
            paragraph = {"type": "paragraph", "content": content}
            body = {"type": "doc", "version": 1, "content": [paragraph]}
        resp = self._request("POST", f"/issue/{key}/comment", json={"body": body})
        if resp.status_code == 404:
            raise NotFound(f"{key}: not found in Jira")
        self._expect(resp, (201,), f"{key}: comment")

    # -- plumbing ----------------------------------------------------------------------------

    def _json(self, resp: httpx.Response, what: str) -> dict[str, Any]:
        self._expect(resp, (200,), what)
        try:
            data = resp.json()
        except ValueError:
            raise JiraError(f"Jira: {what}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise JiraError(f"Jira: {what}: the answer is not a JSON object")
        return data

    def _expect(self, resp: httpx.Response, ok: tuple[int, ...], what: str) -> None:
        if resp.status_code in ok:
            return
        code = resp.status_code
        if code in (401, 403):
            raise JiraError(f"Jira refused the credentials ({code}): {what}", retryable=True)
        retry_after = self._wait(resp, 0) if code == 429 and "Retry-After" in resp.headers else None
        raise JiraError(
            f"Jira answered {code}: {what}",
            retryable=code in (408, 429) or code >= 500,
            retry_after=retry_after,
        )

    def _request(self, method: str, path: str, *, json: Any = None) -> httpx.Response:
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            self.requests += 1
            try:
                resp = self._http.request(method, self.api + path, json=json)
            except httpx.HTTPError as exc:
                if last:
                    raise JiraError(
                        f"cannot reach Jira at {self.url}: {type(exc).__name__}", retryable=True
                    ) from None
                self._sleep(min(self.retry.cap, self.retry.base * 2.0**attempt))
                continue
            if (resp.status_code != 429 and resp.status_code < 500) or last:
                return resp
            self._sleep(self._wait(resp, attempt))
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _wait(self, resp: httpx.Response, attempt: int) -> float:
        said = str(resp.headers.get("Retry-After", ""))
        try:
            wait: float = max(0.0, float(said))
            return min(self.retry.cap, wait)
        except ValueError:
            return min(self.retry.cap, self.retry.base * 2.0**attempt)
