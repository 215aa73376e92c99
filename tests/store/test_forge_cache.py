"""The forge's PR cache in the database (``forge_pull_requests``, migration 0006), on
SQLite and PostgreSQL: kept per app and repository, updated in place, ages out."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from shipyard.store.db import open_store
from shipyard.store.forge_cache import DbPrCache
from shipyard.store.models import App, ForgePullRequest


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def pr(number: int, title: str, labels: list[str]) -> dict[str, object]:
    url = f"https://github.com/acme/web/pull/{number}"
    return {"number": number, "title": title, "author": "octocat", "labels": labels, "url": url}


def test_entries_are_kept_per_app_and_repository_and_age_out(db_url: str) -> None:
    store = open_store(db_url)
    with store.write() as s:
        apps = [App(name=n, repo="/r", created_at=datetime.now(UTC)) for n in ("web", "api")]
        s.add_all(apps)
        s.flush()
        web, api = (a.id for a in apps)
    clock = Clock()
    cache = DbPrCache(store, web, "acme/web", clock=clock)
    assert cache.fresh([12, 13]) == {}
    cache.put(12, pr(12, "Add login", ["type: feature", "ünïcode"]), etag='"e12"')
    cache.put(13, None)  # no PR 13
    cache.save()

    again = DbPrCache(store, web, "acme/web", clock=clock)  # another process
    assert again.fresh([12, 13, 14]) == {
        12: pr(12, "Add login", ["type: feature", "ünïcode"]),
        13: None,
    }
    assert DbPrCache(store, api, "acme/web", clock=clock).fresh([12]) == {}
    assert DbPrCache(store, web, "acme/other", clock=clock).fresh([12]) == {}

    clock.now += 25 * 3600  # a day later: stale, revalidated with its ETag
    later = DbPrCache(store, web, "acme/web", clock=clock)
    assert later.fresh([12, 13]) == {}
    assert later.stale(12) == (pr(12, "Add login", ["type: feature", "ünïcode"]), '"e12"')
    assert later.stale(13) is None
    later.put(12, pr(12, "Add login form", []), etag='"f12"')
    later.save()
    with store.read() as s:
        assert s.execute(select(func.count()).select_from(ForgePullRequest)).scalar_one() == 2
    assert DbPrCache(store, web, "acme/web", clock=clock).fresh([12]) == {
        12: pr(12, "Add login form", [])
    }
    store.close()
