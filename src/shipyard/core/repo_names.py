"""A GitHub repository's ``owner/name`` from what a config or a remote says.

Apart from ``core.github`` (the webhook payloads), so that loading the config reads
only this."""

from __future__ import annotations

import re

_REPO_RE = re.compile(
    r"^(?:(?:https?://|git@)github\.com[/:])?([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?$"
)


def repository_name(source: str | None) -> str | None:
    """``org/name`` from ``org/name``, a GitHub URL or an SSH remote; None otherwise.

    >>> repository_name("https://github.com/org/app.git")
    'org/app'
    """
    if not source:
        return None
    m = _REPO_RE.match(source.strip())
    return m.group(1) if m else None
