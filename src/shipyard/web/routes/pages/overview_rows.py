"""One app's rows on the overview page, rendered once per worker and reused while
nothing they show has changed.

The overview shows 50 apps a page; rendering their rows was most of what a page cost,
and between two views they rarely change. Each worker keeps, per app, the rows' HTML
with what it was rendered from: the environments' status as the request read it from
the database, the times as shown ("3 min ago") and whether the user may promote. The
HTML is reused only when all of that is equal, so a change made by anyone (another
worker, the CLI, a server on another host) shows at the next view: nothing needs
invalidating. The rest of what the rows show (the environments' links, the commits'
links) comes from the app's settings, which a server keeps for its life. One entry
per app served.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup

from shipyard.config import Settings
from shipyard.config.settings import links_of
from shipyard.services.records import EnvStatus
from shipyard.web.humanize import relative
from shipyard.web.routes.pages.common import fragment


class RowsCache:
    """The overview's rows by app name (see the module's docstring)."""

    def __init__(self) -> None:
        self._done: dict[str, tuple[tuple[Any, ...], Markup]] = {}

    def html(
        self,
        settings: Settings,
        rows: Sequence[EnvStatus],
        error: str,
        promote: bool,
        now: datetime,
    ) -> Markup:
        """The app's ``<tbody>``: reused when equal inputs rendered it before."""
        rows = tuple(rows)  # a copy: what the key holds must not change under it
        key = (promote, error, rows, _times(rows, now))
        name = settings.app.name
        hit = self._done.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        html = fragment(
            "_overview_app.html",
            a=_App(name, rows, error),
            promote=promote,
            urls={env: cfg.link for env, cfg in settings.environments.items()},
            commit_url=links_of(settings).commit_url,
            now=now,
        )
        self._done[name] = (key, html)
        return html


class _App:
    __slots__ = ("error", "name", "rows")

    def __init__(self, name: str, rows: Sequence[EnvStatus], error: str) -> None:
        self.name, self.rows, self.error = name, rows, error


def _times(rows: Sequence[EnvStatus], now: datetime) -> tuple[str, ...]:
    """Each row's "since" as shown at ``now`` (the rows show it relative)."""
    return tuple(
        relative(r.deployment.finished_at or r.deployment.created_at, now)
        if r.deployment is not None
        else ""
        for r in rows
    )
