"""``[links]``: URL templates of commits, PRs, compares and tickets, and their defaults.

``resolve_links`` gives the app's ``core.links.Links`` (``settings.links_of`` calls it
with the settings' repository): each template from the file, else GitHub's when the
repository is known (``[webhooks] repository``, or ``[app] source`` naming a GitHub
repository), else Jira's for a ticket when ``jira`` names the site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shipyard.config.schema import Invalid, _fields
from shipyard.core.links import GITHUB, JIRA, PLACEHOLDERS, URL_RE, Links, problem, resolve

__all__ = [
    "URL_RE",
    "LinksConfig",
    "check_templates",
    "parse_links",
    "repository_named",
    "resolve_links",
]


@dataclass(frozen=True)
class LinksConfig:
    """``[links]``: URL templates of commits, PRs, compares and tickets (``core.links``);
    a template left out falls back to GitHub's or Jira's when the settings name one."""

    commit: str | None = None
    pr: str | None = None
    compare: str | None = None
    ticket: str | None = None
    release: str | None = None
    jira: str | None = None  # an Atlassian site: "acme" or "jira.acme.com"


def parse_links(data: Any) -> LinksConfig:
    p: tuple[str | int, ...] = ("links",)
    f = _fields(data, p, {k: (str, None) for k in (*PLACEHOLDERS, "jira")})
    for kind in PLACEHOLDERS:
        found = problem(kind, f[kind]) if f[kind] is not None else None
        if found:
            raise Invalid((*p, kind), found)
    if f["jira"] is not None and not re.match(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$", f["jira"]):
        raise Invalid((*p, "jira"), "the site's name (acme) or host (jira.acme.com)")
    return LinksConfig(**f)


def repository_named(repository: str | None, source: str | None) -> str | None:
    """``owner/name`` on GitHub: ``[webhooks] repository``, else the one ``[app] source`` names."""
    if repository:
        return repository
    if not source:
        return None
    from shipyard.core.repo_names import repository_name

    found = repository_name(source)
    if found and ("github.com" in source or not source.startswith(".")):
        return found
    return None


def _templates(cfg: LinksConfig, repository: str | None) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for kind in PLACEHOLDERS:
        given = getattr(cfg, kind)
        if given is None and kind in GITHUB and repository:
            given = GITHUB[kind]
        elif given is None and kind == "ticket" and cfg.jira:
            given = JIRA
        out[kind] = given
    return out


def check_templates(cfg: LinksConfig, repository: str | None) -> None:
    """Refuse a template naming ``{repository}`` or ``{jira}`` the settings do not give."""
    for kind, template in _templates(cfg, repository).items():
        if template and "{repository}" in template and not repository:
            raise Invalid(
                ("links", kind),
                "{repository} needs [webhooks] repository or an [app] source naming owner/name",
            )
        if template and "{jira}" in template and not cfg.jira:
            raise Invalid(("links", kind), "{jira} needs [links] jira (the site's name)")


def resolve_links(cfg: LinksConfig, repository: str | None) -> Links:
    """The app's links, every template resolved (see the module's docstring)."""
    return Links(
        **{
            kind: resolve(t, repository=repository, jira=cfg.jira) if t else None
            for kind, t in _templates(cfg, repository).items()
        }
    )
