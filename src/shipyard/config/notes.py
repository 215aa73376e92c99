"""``[notes]``: how release notes are grouped by the PRs' labels.

::

    [notes]
    groups = { "type: bug" = "Fixes", "type: feature" = "Features", dependencies = "Dependencies" }

Each entry maps a label to a heading, in order: the first entry naming one of a
change's labels takes it, before the title rules of ``[[releases.groups]]``; a change
with no such label falls through to them. Labels come from the forge
(``[forge] kind = "github"``); without one no change has labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from shipyard.config.schema import Invalid, _check_type, _fields

LABEL_LIMIT = 50  # GitHub's longest label name
TITLE_LIMIT = 100


class NotesConfig(NamedTuple):
    """``[notes]``: ``groups`` maps PR labels to headings, in order."""

    groups: Mapping[str, str] = MappingProxyType({})


def parse_notes(data: Any) -> NotesConfig:
    p: tuple[str | int, ...] = ("notes",)
    f = _fields(data, p, {"groups": (dict, dict)})
    return NotesConfig(groups=label_map(f["groups"], (*p, "groups")))


def label_map(groups: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, str]:
    """``label -> heading``, checked: labels as GitHub allows them, one heading each."""
    seen: dict[str, str] = {}
    for label, title in groups.items():
        where = (*path, label)
        label_name(label, where)
        _check_type(title, str, where)
        if not title.strip() or len(title) > TITLE_LIMIT or "\n" in title:
            raise Invalid(where, f"the heading must be one line of 1 to {TITLE_LIMIT} characters")
        other = seen.setdefault(label.casefold(), label)
        if other != label:
            raise Invalid(where, f"labels ignore case: {other!r} is named already")
    return dict(groups)


def label_name(label: str, path: tuple[str | int, ...]) -> str:
    if not label.strip() or len(label) > LABEL_LIMIT:
        raise Invalid(path, f"a label is 1 to {LABEL_LIMIT} characters, not only spaces")
    return label
