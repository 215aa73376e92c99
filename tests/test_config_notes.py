"""``[notes] groups`` (PR labels to headings) and ``labels`` on ``[[releases.groups]]``:
ordered, checked, and every error names the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipyard.config import parse
from shipyard.config.notes import NotesConfig
from shipyard.errors import ConfigError
from shipyard.services.forge_notes import configured_groups

BASE: dict[str, Any] = {
    "app": {"name": "web", "run": "python3 app.py"},
    "environments": {"stage": {"port": 8100}},
}


def test_label_groups_keep_their_order_and_come_before_the_title_rules() -> None:
    groups = {"type: bug": "Fixes", "type: feature": "Features", "dependencies": "Dependencies"}
    releases = {"groups": [{"key": "docs", "title": "Docs", "match": "^docs", "labels": ["doc"]}]}
    settings = parse({**BASE, "notes": {"groups": groups}, "releases": releases}, root=Path("."))
    assert settings.notes == NotesConfig(groups=groups)
    assert list(settings.notes.groups) == ["type: bug", "type: feature", "dependencies"]
    assert settings.releases.groups[0].labels == ("doc",)
    rules = configured_groups(settings)
    assert [(r.key, r.labels) for r in rules] == [
        ("fixes", ("type: bug",)),
        ("features", ("type: feature",)),
        ("dependencies", ("dependencies",)),
        ("docs", ("doc",)),
    ]
    default = configured_groups(parse(BASE, root=Path(".")))
    assert [r.key for r in default] == ["features", "fixes", "reverts", "other"]


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"notes": {"groups": {"bug": 3}}}, r"notes -> groups -> bug: must be a string"),
        ({"notes": {"groups": ["bug"]}}, r"notes -> groups: must be a table"),
        ({"notes": {"groups": {" ": "Fixes"}}}, r"notes -> groups ->  : a label is 1 to 50"),
        ({"notes": {"groups": {"x" * 51: "X"}}}, r"a label is 1 to 50 characters"),
        ({"notes": {"groups": {"bug": ""}}}, r"notes -> groups -> bug: the heading must be one"),
        (
            {"notes": {"groups": {"Bug": "Fixes", "bug": "Other"}}},
            r"notes -> groups -> bug: labels ignore case: 'Bug' is named already",
        ),
        ({"notes": {"labels": {}}}, r"notes -> labels: is not a known setting"),
        (
            {"releases": {"groups": [{"key": "a", "title": "A", "labels": "bug"}]}},
            r"releases -> groups -> 0 -> labels: must be a list",
        ),
        (
            {"releases": {"groups": [{"key": "a", "title": "A", "labels": [1]}]}},
            r"releases -> groups -> 0 -> labels -> 0: must be a string",
        ),
    ],
)
def test_errors_name_the_field(extra: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        parse({**BASE, **extra}, root=Path("."))
