"""What a newcomer sees in the dashboard: links to the forge and tracker, History as
sentences a page at a time, who signed a ticket off and when, and no "Promote…" where
a promotion would change nothing."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import make_project, stop_all
from shipyard.config import load
from shipyard.store import audit
from shipyard.store.db import open_store
from web.test_pages import BO, Clients, log_in, run

LINKS = '\n[webhooks]\nrepository = "acme/monitor"\n\n[links]\njira = "acme"\n'


def test_links_sentences_signoffs_and_no_idle_promote(tmp_path: Path) -> None:
    p = make_project(tmp_path / "monitor", extra=LINKS)
    try:
        p.ok("sync")
        p.repo.merge_pr(
            7, "MNTOR-101-alerts", "Add alerts (MNTOR-101)", [p.features("a")], author=BO
        )
        p.ok("sync")
        _many_records(p.path)
        p.ok("prerelease", "--date", "2024-09-03")
        p.ok("qa", "verify", "MNTOR-101", user="quinn@example.com")
        p.ok("deploy", "prod", "2024.09.03", "--yes")
        head = p.head()
        run(p, lambda c, t: _pages(c, t, p.ports, head))
    finally:
        stop_all(p)


def _many_records(path: Path) -> None:
    """More audit records than one page of History shows."""
    store = open_store(load(path / "shipyard.toml").database_url)
    try:
        for i in range(60):
            store.retrying(
                lambda s, i=i: audit.append(
                    s, actor="bot", app="monitor", action="app.noted", subject=f"n{i}"
                )
            )
    finally:
        store.close()


async def _pages(c: Clients, t: dict[str, str], ports: dict[str, int], head: str) -> None:
    rel = c["rel"]
    await log_in(rel, t["rel"])

    page = (await rel.get("/apps/monitor")).text
    assert f'href="http://127.0.0.1:{ports["prod"]}/"' in page  # each environment links to it
    assert f'href="https://github.com/acme/monitor/commit/{head}"' in page
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" title="[^"]+ UTC">', page)
    promote = re.findall(r'promote\?environment=(\w+)">Promote', page)
    assert promote == ["dev"]  # stage and prod run what they would get; dev runs nothing

    page = (await rel.get("/apps/monitor/releases")).text
    assert 'href="https://acme.atlassian.net/browse/MNTOR-101"' in page
    assert re.search(r"verified by quinn@example\.com <time datetime=", page)
    assert "Promote 2024.09.03" not in page  # prod runs it already
    assert '<a href="https://github.com/acme/monitor/pull/7">#7</a>' in page  # in the notes

    want = {"environment": "prod", "ref": "2024.09.03"}
    page = (await rel.get("/apps/monitor/promote", params=want)).text
    assert 'id="nothing-to-change"' in page and 'id="confirm-deploy"' not in page
    dev = {"environment": "dev", "ref": head[:7]}
    page = (await rel.get("/apps/monitor/promote", params=dev)).text
    assert 'href="https://github.com/acme/monitor/pull/7"' in page
    assert 'href="https://acme.atlassian.net/browse/MNTOR-101"' in page
    assert 'id="confirm-deploy"' in page and "verified by quinn@example.com" in page

    page = (await rel.get("/history", params={"app": "monitor"})).text
    assert re.search(
        r"ana@example\.com deployed <strong>2024\.09\.03</strong> \(<a [^>]*>"
        r"<code>\w{7}</code></a>\) to <a [^>]*>prod</a> — succeeded in [\d.]+ s\.",
        page,
    ), page
    assert re.search(r"<a [^>]*>stage</a> followed main to", page)
    assert "quinn@example.com verified MNTOR-101" in page
    assert "ana@example.com cut the pre-release 2024.09.03" in page
    assert 'rel="next" href="/history?app=monitor&amp;page=2"' in page
    assert "n59" in page and "n0<" not in page
    older = (await rel.get("/history", params={"app": "monitor", "page": "2"})).text
    assert "n0" in older and 'rel="prev"' in older and "n59" not in older
    for bad in ("0", "-1", "x", "99999999999"):
        assert (await rel.get("/history", params={"page": bad})).status_code == 200
    assert "javascript:" not in page
