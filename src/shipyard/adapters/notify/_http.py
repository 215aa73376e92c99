"""POST JSON with the standard library and turn every failure into NotifyError.

urllib, http.client and socket exceptions stop here. Redirects are not
followed: urllib would turn a redirected POST into a GET without its body.
"""

from __future__ import annotations

import functools
import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from shipyard import __version__
from shipyard.errors import ConfigError

from .events import NotifyError

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    retry_after: float | None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@functools.cache
def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirect)


def check_url(url: str, what: str) -> str:
    """Accept only http(s) URLs: urllib would also open ``file:`` and ``ftp:``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what}: the url must be an http:// or https:// URL")
    return url


def host_of(url: str) -> str:
    """The part of a URL that is safe to show: webhook paths carry the secret."""
    return urlsplit(url).hostname or "?"


def post_json(
    url: str, payload: Any, *, headers: dict[str, str], timeout: float, service: str
) -> Reply:
    """POST ``payload`` as JSON; any answer is a :class:`Reply`, no answer a NotifyError."""
    body = json.dumps(payload, ensure_ascii=False, default=str).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json; charset=utf-8")
    request.add_header("User-Agent", f"shipyard/{__version__}")
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with _opener().open(request, timeout=timeout) as response:
            return Reply(response.status, _read(response), _retry_after(response.headers))
    except urllib.error.HTTPError as exc:
        try:
            return Reply(exc.code, _read(exc), _retry_after(exc.headers))
        finally:
            exc.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # URLError, timeouts, refused or reset connections, malformed answers.
        reason = str(getattr(exc, "reason", None) or exc).replace(url, host_of(url))
        raise NotifyError(
            f"{service} at {host_of(url)} unreachable: {reason}", retryable=True
        ) from None


def raise_for_status(reply: Reply, service: str, detail: str = "") -> None:
    """Classify an answer: 2xx is delivered; 408, 429 and 5xx may pass later; the rest never."""
    if 200 <= reply.status < 300:
        return
    retryable = reply.status in (408, 429) or reply.status >= 500
    text = detail or reply.body.strip()[:200]
    raise NotifyError(
        f"{service} answered {reply.status}" + (f": {text}" if text else ""),
        retryable=retryable,
        retry_after=reply.retry_after if retryable else None,
    )


def _read(response: Any) -> str:
    data: bytes = response.read(MAX_BODY)
    return data.decode("utf-8", "replace")


def _retry_after(headers: Message | None) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
