"""``[tracker]``: the built-in board by default, Jira by name, errors naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipyard.config import parse
from shipyard.config.schema import SecretRef
from shipyard.config.tracker import TrackerConfig
from shipyard.errors import ConfigError

BASE: dict[str, Any] = {
    "app": {"name": "web", "run": "python3 app.py"},
    "environments": {"stage": {"port": 8100}},
}
JIRA: dict[str, Any] = {
    "kind": "jira",
    "url": "https://mozilla-hub.atlassian.net",
    "user": "releases@example.com",
    "token": {"env": "JIRA_TOKEN"},
    "verified": ["QA Verified", "Done"],
    "rejected": ["QA Failed"],
    "on_merge": "Ready for QA",
    "on_promote": "Released",
}


def tracker(section: dict[str, Any] | None) -> TrackerConfig:
    data = {**BASE, "tracker": section} if section is not None else BASE
    return parse(data, root=Path(".")).tracker


def test_the_builtin_board_stays_the_default() -> None:
    settings = parse(BASE, root=Path("."))
    assert settings.tracker == TrackerConfig() and settings.tracker_kind == "builtin"


def test_the_issue_example_parses() -> None:
    cfg = tracker(JIRA)
    assert cfg.token == SecretRef("JIRA_TOKEN") and cfg.verified == ["QA Verified", "Done"]
    settings = parse({**BASE, "tracker": JIRA}, root=Path("."))
    assert settings.tracker_kind == "jira" and "JIRA_TOKEN" in settings.secret_env_names


def test_the_token_is_read_from_the_environment_only() -> None:
    cfg = tracker(JIRA)
    assert cfg.token_value({"JIRA_TOKEN": "t0k"}) == "t0k"
    with pytest.raises(ConfigError, match="tracker -> token: environment variable JIRA_TOKEN"):
        cfg.token_value({})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"token": "literal"}, r"tracker -> token: a secret is a reference"),
        ({"url": None}, r"tracker -> url: is required"),
        ({"url": "ftp://x"}, r"tracker -> url: must be an http\(s\) URL"),
        ({"verified": []}, r"tracker -> verified: name at least one"),
        ({"verified": ["Done", 3]}, r"tracker -> verified -> 1: must be a string"),
        ({"rejected": ["done"]}, r"tracker -> rejected -> 0: 'done' is also a verified"),
        (
            {"kind": "trello"},
            r"tracker -> kind: unknown tracker adapter 'trello'; known: builtin, jira",
        ),
        ({"colour": "red"}, r"tracker -> colour: is not a known setting"),
        ({"cache_seconds": -1}, r"tracker -> cache_seconds: must be at least 0"),
        ({"webhook_secret": "literal"}, r"tracker -> webhook_secret: a secret is a reference"),
    ],
)
def test_bad_settings_name_the_field(change: dict[str, Any], message: str) -> None:
    section = {k: v for k, v in {**JIRA, **change}.items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        tracker(section)


def test_the_webhook_secret_is_a_reference_read_from_the_environment_and_scrubbed() -> None:
    section = {**JIRA, "webhook_secret": {"env": "JIRA_WEBHOOK_SECRET"}}
    cfg = tracker(section)
    assert cfg.webhook_secret == SecretRef("JIRA_WEBHOOK_SECRET")
    assert cfg.webhook_secret_value({"JIRA_WEBHOOK_SECRET": "s"}) == "s"
    assert cfg.webhook_secret_value({}) is None and tracker(JIRA).webhook_secret_value({}) is None
    settings = parse({**BASE, "tracker": section}, root=Path("."))
    assert "JIRA_WEBHOOK_SECRET" in settings.secret_env_names
    with pytest.raises(ConfigError, match='tracker -> webhook_secret: only a "jira" tracker'):
        tracker({"webhook_secret": {"env": "X"}})


def test_jira_settings_on_the_builtin_board_are_refused() -> None:
    with pytest.raises(ConfigError, match='tracker -> url: only a "jira" tracker'):
        tracker({"url": "https://x.atlassian.net"})


def test_the_tracker_is_chosen_in_one_place() -> None:
    app = {**BASE["app"], "tracker": "jira"}
    with pytest.raises(ConfigError, match=r"app -> tracker: choose the tracker in one place"):
        parse({**BASE, "app": app, "tracker": JIRA}, root=Path("."))
