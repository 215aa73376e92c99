"""A generic JSON webhook: POST ``event.to_dict()`` to a URL."""

from __future__ import annotations

from collections.abc import Mapping

from ._http import check_url, host_of, post_json, raise_for_status
from .events import Event


class WebhookSink:
    """POST each event as JSON to ``url``.

    The body is exactly ``event.to_dict()``; the headers ``X-Shipyard-Event``
    (the kind) and ``X-Shipyard-Event-Id`` let a receiver route and de-duplicate
    (delivery is at least once). Any 2xx is delivered; 408, 429, 5xx and network
    errors are retried; any other answer is final.

    Example::

        WebhookSink("https://hooks.example.com/shipyard", headers={"Authorization": "Bearer …"})
    """

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        *,
        name: str = "webhook",
        events: frozenset[str] = frozenset(),
    ) -> None:
        self._url = check_url(url, f"notify sink {name!r}")
        self._headers = dict(headers or {})
        self.timeout = timeout
        self.name = name
        self.events = events

    def __repr__(self) -> str:
        # The URL and headers may hold credentials: show the host only.
        return f"WebhookSink(name={self.name!r}, host={host_of(self._url)!r})"

    def send(self, event: Event) -> None:
        headers = {
            **self._headers,
            "X-Shipyard-Event": event.kind,
            "X-Shipyard-Event-Id": event.id,
        }
        reply = post_json(
            self._url, event.to_dict(), headers=headers, timeout=self.timeout, service="webhook"
        )
        raise_for_status(reply, "webhook")
