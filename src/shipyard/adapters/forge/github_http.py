"""GitHub's REST API over httpx: authentication, rate limits, retries, error translation.

    client = GitHubClient("https://api.github.com", token=lambda: os.environ["GITHUB_TOKEN"])
    resp = client.request("GET", "/repos/acme/web/pulls/12")

Limits as GitHub documents them ("Rate limits for the REST API"): a 403 or 429 with
``retry-after`` waits that many seconds (secondary limits); one with
``x-ratelimit-remaining: 0`` waits until ``x-ratelimit-reset``; other 429s back off
exponentially. Connection errors, timeouts and 5xx back off too. Every wait is bounded
(``max_wait`` per wait, ``attempts`` in all); past it a ``ForgeError`` with ``retryable``
says when to try again. A 401 refreshes the token once (an environment variable is read
again: a rotated token; a GitHub App's installation token is exchanged anew) before it
becomes ``Unauthorized``. The token never appears in an error or a log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import httpx

from shipyard.adapters.forge import ForgeError
from shipyard.errors import NotFound, Unauthorized

API_VERSION = "2022-11-28"
ATTEMPTS = 6
BASE_DELAY = 0.5
MAX_DELAY = 8.0
MAX_WAIT = 60.0  # longer waits (an hour-long primary limit) are left to the outbox
# Someone waits for release notes: a forge that is down fails over to the commit
# messages at once (connection refused: 2 tries, one 0.5 s wait), a limit over 2 s is
# not waited for, and an unanswered connect is given up after 2 s.
QUICK_ATTEMPTS = 2
QUICK_MAX_WAIT = 2.0
QUICK_CONNECT = 2.0


@runtime_checkable
class TokenSource(Protocol):
    """Where the bearer token comes from: a variable, or a GitHub App (``github_app.py``)."""

    def token(self) -> str:
        """The token to send now."""
        ...

    def refresh(self) -> bool:
        """After a 401: get the token anew; True when another try is worth it."""
        ...


class StaticToken:
    """A token read once (from an environment variable), and read again after a 401."""

    def __init__(self, read: Callable[[], str]) -> None:
        self._read = read
        self._value: str | None = None

    def token(self) -> str:
        if self._value is None:
            self._value = self._read()
        return self._value

    def refresh(self) -> bool:
        old, self._value = self._value, self._read()
        return self._value != old


class GitHubClient:
    """One API root and one token source; ``request`` returns the final response."""

    def __init__(
        self,
        api: str,
        token: Callable[[], str] | TokenSource,
        *,
        attempts: int = ATTEMPTS,
        max_wait: float = MAX_WAIT,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api.rstrip("/")
        self.auth = token if isinstance(token, TokenSource) else StaticToken(token)
        self.attempts = attempts
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock
        self.requests = 0  # sent, for the notes' request budget
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def quick(self) -> GitHubClient:
        """This client, with the small budget for a person waiting (``QUICK_*``), also for
        a GitHub App's token exchange; the outbox's reporter keeps the default one."""
        self.attempts = min(self.attempts, QUICK_ATTEMPTS)
        self.max_wait = min(self.max_wait, QUICK_MAX_WAIT)
        old = self._http.timeout
        self._http.timeout = httpx.Timeout(
            old.read, connect=min(old.connect or QUICK_CONNECT, QUICK_CONNECT)
        )
        app = getattr(self.auth, "app", None)
        if isinstance(app, GitHubClient):
            app.quick()
        return self

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "shipyard",
            "Authorization": f"Bearer {self.auth.token()}",
            **(extra or {}),
        }

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        self.requests += 1
        try:
            return self._http.request(method, self.api + path, **kw)
        except httpx.TimeoutException:
            raise ForgeError(f"GitHub: {method} {path} timed out", retryable=True) from None
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            raise ForgeError(f"GitHub: {method} {path} failed: {reason}", retryable=True) from None

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send until a final answer: 2xx, 304, or a 4xx other than limits; that response."""
        refreshed = False
        last: ForgeError | None = None
        for attempt in range(self.attempts):
            try:
                resp = self._send(
                    method, path, json=json, params=params, headers=self._headers(headers)
                )
            except ForgeError as exc:
                last = exc
                self._wait(self._backoff(attempt), method, path, attempt)
                continue
            if resp.status_code == 401 and not refreshed:
                refreshed = True
                if self.auth.refresh():
                    continue
            wait = self._limited(resp, attempt)
            if wait is None and resp.status_code < 500:
                return _final(resp, method, path)
            last = ForgeError(
                f"GitHub: {method} {path} answered {resp.status_code}", retryable=True
            )
            self._wait(wait if wait is not None else self._backoff(attempt), method, path, attempt)
        assert last is not None
        raise ForgeError(f"{last.message} ({self.attempts} attempts)", retryable=True)

    def _limited(self, resp: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait when ``resp`` is a rate limit, else None."""
        if resp.status_code not in (403, 429):
            return None
        h = resp.headers
        if "retry-after" in h:
            return _seconds(h["retry-after"], self._backoff(attempt))
        if h.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in h:
            reset = _seconds(h["x-ratelimit-reset"], self.clock())
            return max(0.0, reset - self.clock()) + 1.0
        if resp.status_code == 429 or b"rate limit" in resp.content.lower():
            return self._backoff(attempt)
        return None

    def _backoff(self, attempt: int) -> float:
        return float(min(MAX_DELAY, BASE_DELAY * 2**attempt))

    def _wait(self, seconds: float, method: str, path: str, attempt: int) -> None:
        """Sleep before the next attempt; none after the last one."""
        if seconds > self.max_wait:
            raise ForgeError(
                f"GitHub: rate limited for {seconds:.0f} s on {method} {path}",
                retryable=True,
                retry_after=seconds,
            )
        if attempt + 1 < self.attempts:
            self.sleep(seconds)


def _seconds(value: str, default: float) -> float:
    try:
        return float(value)
    except ValueError:
        return default


def _final(resp: httpx.Response, method: str, path: str) -> httpx.Response:
    """``resp`` when it is a success or 304; else its error, translated."""
    status = resp.status_code
    if status < 300 or status == 304:
        return resp
    said = _message(resp)
    where = f"GitHub: {method} {path}"
    if status == 401:
        raise Unauthorized(f"{where}: the token was refused (401){said}")
    if status == 404:
        raise NotFound(f"{where}: not found, or the token may not see it{said}")
    raise ForgeError(f"{where} answered {status}{said}", github_status=status)


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {str(message)[:200]}" if message else ""
