"""Forge and tracker links: templates checked at load, values encoded, defaults derived."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipyard.config import parse
from shipyard.config.settings import links_of
from shipyard.core.links import Links, problem
from shipyard.errors import ConfigError


def _settings(**sections: Any) -> Any:
    data = {
        "app": {"name": "monitor", "run": "python3 app.py"},
        "environments": {"stage": {"port": 8111}},
        **sections,
    }
    return parse(data, root=Path("."))


def test_github_links_come_from_the_apps_source_and_jira_from_its_site() -> None:
    s = _settings(
        app={"name": "m", "run": "x", "source": "https://github.com/mozilla/blurts-server.git"},
        links={"jira": "mozilla-hub"},
    )
    links = links_of(s)
    assert links.commit_url("abc123") == "https://github.com/mozilla/blurts-server/commit/abc123"
    assert links.pr_url(42) == "https://github.com/mozilla/blurts-server/pull/42"
    assert links.compare_url("prod-2024.09.01", "2024.09.02") == (
        "https://github.com/mozilla/blurts-server/compare/prod-2024.09.01...2024.09.02"
    )
    assert links.ticket_url("MNTOR-12") == "https://mozilla-hub.atlassian.net/browse/MNTOR-12"


def test_the_webhooks_repository_wins_and_templates_override_the_defaults() -> None:
    s = _settings(
        webhooks={"repository": "acme/app"},
        links={"pr": "https://gitea.acme.test/{repository}/pulls/{number}"},
    )
    links = links_of(s)
    assert links.pr_url(7) == "https://gitea.acme.test/acme/app/pulls/7"
    assert links.commit_url("abc") == "https://github.com/acme/app/commit/abc"
    assert links.ticket_url("MNTOR-1") is None  # no tracker named: no link


def test_without_a_repository_nothing_links() -> None:
    links = links_of(_settings(app={"name": "m", "run": "x", "source": "../monitor"}))
    assert links == Links()
    assert links.commit_url("abc") is None


def test_values_are_encoded_so_they_stay_in_their_place() -> None:
    links = Links(ticket="https://t.test/browse/{key}", compare="https://f.test/{base}...{head}")
    assert links.ticket_url('X-1"><script>') == "https://t.test/browse/X-1%22%3E%3Cscript%3E"
    assert (
        links.compare_url("a/../../evil", "b?x=1")
        == "https://f.test/a%2F..%2F..%2Fevil...b%3Fx%3D1"
    )


@pytest.mark.parametrize(
    ("links", "message"),
    [
        ({"ticket": "javascript:alert(1)//{key}"}, "links -> ticket: must be an http"),
        ({"commit": "https://f.test/{sha}/{oops}"}, "links -> commit: {oops} is not a placeholder"),
        ({"compare": "https://f.test/{base}"}, "links -> compare: must contain {head}"),
        ({"pr": "https://f.test/{number"}, "links -> pr: is not a valid template"),
        ({"jira": "a b"}, "links -> jira: the site's name"),
        ({"commit": "https://f.test/{repository}/{sha}"}, "links -> commit: {repository} needs"),
        ({"ticket": "https://{jira}/browse/{key}"}, "links -> ticket: {jira} needs [links] jira"),
        ({"wiki": "https://w.test/"}, "links -> wiki"),
    ],
)
def test_a_bad_template_is_refused_naming_its_field(links: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _settings(links=links)
    assert message in caught.value.message


def test_an_environments_url_is_checked_and_defaults_to_its_port() -> None:
    s = _settings(
        environments={"stage": {"port": 8111}, "prod": {"port": 8112, "url": "https://prod.test/"}}
    )
    assert s.environment("stage").link == "http://127.0.0.1:8111/"
    assert s.environment("prod").link == "https://prod.test/"
    with pytest.raises(ConfigError, match="environments -> stage -> url: must be an http"):
        _settings(environments={"stage": {"port": 8111, "url": "javascript:alert(1)"}})


def test_problem_accepts_a_good_template() -> None:
    assert problem("ticket", "https://acme.atlassian.net/browse/{key}") is None


def test_release_notes_link_their_prs_and_tickets() -> None:
    links = Links(pr="https://f.test/pull/{number}", ticket="https://t.test/browse/{key}")
    notes = "- Add alerts (MNTOR-101) (#12) by Bo · MNTOR-101\n- Bump (#13) · CVE-2024-1"
    assert links.in_markdown(notes, ["MNTOR"]) == (
        "- Add alerts ([MNTOR-101](<https://t.test/browse/MNTOR-101>)) "
        "([#12](<https://f.test/pull/12>)) by Bo · [MNTOR-101](<https://t.test/browse/MNTOR-101>)\n"
        "- Bump ([#13](<https://f.test/pull/13>)) · CVE-2024-1"
    )
    assert Links().in_markdown(notes, ["MNTOR"]) == notes
