"""One app's rows on the overview page, rendered once per worker and reused while
nothing they show has changed.

The overview shows 50 apps a page; rendering their rows was most of what a page cost,
and between two views they rarely change. Each worker keeps, per app, the rows' HTML
with what it was rendered from: the environments' status as the request read it from
the database and whether the user may promote, and until when its times ("3 min ago")
read the same. The HTML is reused only when all of that still holds, so a change made
by anyone (another worker, the CLI, a server on another host) shows at the next view:
nothing needs invalidating. The rest of what the rows show (the environments' and
the commits' links) comes from the app's settings, which a server keeps for its
life. One entry per app served.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup

from shipyard.config import Settings
from shipyard.config.settings import links_of
from shipyard.services.records import EnvStatus
from shipyard.web.humanize import relative_until
from shipyard.web.routes.pages.common import fragment


class RowsCache:
    """The overview's rows by app name (see the module's docstring)."""

    def __init__(self) -> None:
        # app -> (what the rows were rendered from, until when their times read the same, HTML)
        self._done: dict[str, tuple[tuple[Any, ...], datetime | None, Markup]] = {}

    def html(
        self,
        settings: Settings,
        rows: Sequence[EnvStatus],
        error: str,
        promote: bool,
        now: datetime,
    ) -> Markup:
        """The app's ``<tbody>``: reused when equal inputs rendered it and its times
        ("3 min ago") still read the same at ``now``."""
        rows = tuple(rows)  # a copy: what the key holds must not change under it
        key = (promote, error, rows)
        name = settings.app.name
        hit = self._done.get(name)
        if hit is not None and (hit[1] is None or now < hit[1]) and hit[0] == key:
            return hit[2]
        html = fragment(
            "_overview_app.html",
            a=_App(name, rows, error),
            promote=promote,
            urls={env: cfg.link for env, cfg in settings.environments.items()},
            commit_url=links_of(settings).commit_url,
            now=now,
        )
        self._done[name] = (key, _until(rows, now), html)
        return html


class _App:
    __slots__ = ("error", "name", "rows")

    def __init__(self, name: str, rows: Sequence[EnvStatus], error: str) -> None:
        self.name, self.rows, self.error = name, rows, error


def _until(rows: Sequence[EnvStatus], now: datetime) -> datetime | None:
    """Until when every row's "since" reads as it does at ``now`` (None: for ever)."""
    ends = [
        relative_until(r.deployment.finished_at or r.deployment.created_at, now)
        for r in rows
        if r.deployment is not None
    ]
    return min((end for end in ends if end is not None), default=None)
