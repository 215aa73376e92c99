"""Links to the forge and the tracker: commits, PRs, compares and tickets by URL template.

A template is an ``http(s)`` URL with placeholders, e.g.
``https://github.com/{repository}/commit/{sha}``. ``{repository}`` and ``{jira}``
are filled once from the settings (``resolve``); the others per link, each value
percent-encoded, so a value can neither leave its place in the URL nor turn the
link into another scheme::

    >>> Links(ticket="https://acme.atlassian.net/browse/{key}").ticket_url("MNTOR-12")
    'https://acme.atlassian.net/browse/MNTOR-12'
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from urllib.parse import quote

# What each kind of link is filled with, and the settings every template may name.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "commit": ("sha",),
    "pr": ("number",),
    "compare": ("base", "head"),
    "ticket": ("key",),
    "release": ("tag",),
}
SHARED = ("repository", "jira")
URL_RE = re.compile(r"^https?://[^\s/?#<>\"]+[^\s<>\"]*$", re.ASCII)
GITHUB = {
    "commit": "https://github.com/{repository}/commit/{sha}",
    "pr": "https://github.com/{repository}/pull/{number}",
    "compare": "https://github.com/{repository}/compare/{base}...{head}",
    "release": "https://github.com/{repository}/releases/tag/{tag}",
}
JIRA = "https://{jira}/browse/{key}"
PR_RE = re.compile(r"\(#(\d{1,9})\)")


def problem(kind: str, template: str) -> str | None:
    """What is wrong with ``template`` as a ``kind`` link, or None if it is fine."""
    if not URL_RE.match(template):
        return "must be an http:// or https:// URL"
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        return f"is not a valid template: {exc}"
    wanted = PLACEHOLDERS[kind]
    for name in names:
        if name not in wanted and name not in SHARED:
            known = ", ".join("{" + n + "}" for n in (*wanted, *SHARED))
            return f"{{{name}}} is not a placeholder here (known: {known})"
    missing = [n for n in wanted if n not in names]
    if missing:
        return "must contain " + " and ".join("{" + n + "}" for n in missing)
    return None


def jira_host(site: str) -> str:
    """``acme`` -> ``acme.atlassian.net``; a name with a dot is a host already."""
    return site if "." in site else f"{site}.atlassian.net"


def resolve(template: str, *, repository: str | None, jira: str | None) -> str:
    """Fill the settings' placeholders; the caller has checked that those named are known."""
    if repository is not None:
        template = template.replace("{repository}", quote(repository, safe="/"))
    if jira is not None:
        template = template.replace("{jira}", quote(jira_host(jira), safe="."))
    return template


def _fill(template: str | None, **values: object) -> str | None:
    if template is None:
        return None
    for name, value in values.items():
        template = template.replace("{" + name + "}", quote(str(value), safe=""))
    return template


@dataclass(frozen=True)
class Links:
    """An app's resolved templates; a kind without one links nowhere (None)."""

    commit: str | None = None
    pr: str | None = None
    compare: str | None = None
    ticket: str | None = None
    release: str | None = None  # a release's page: the dashboard's, or the forge's

    def commit_url(self, sha: str | None) -> str | None:
        return _fill(self.commit, sha=sha) if sha else None

    def pr_url(self, number: int | str | None) -> str | None:
        return _fill(self.pr, number=number) if number else None

    def compare_url(self, base: str | None, head: str | None) -> str | None:
        return _fill(self.compare, base=base, head=head) if base and head else None

    def ticket_url(self, key: str | None) -> str | None:
        return _fill(self.ticket, key=key) if key else None

    def release_url(self, tag: str | None) -> str | None:
        return _fill(self.release, tag=tag) if tag else None

    def in_markdown(self, text: str, prefixes: list[str]) -> str:
        """Release notes with their PRs (``(#12)``) and ticket keys as Markdown links."""
        if self.pr:
            text = PR_RE.sub(lambda m: f"([#{m[1]}](<{self.pr_url(m[1])}>))", text)
        if self.ticket and prefixes:
            keys = re.compile(
                r"(?<![\w\[/-])((?:" + "|".join(map(re.escape, prefixes)) + r")-\d+)\b"
            )
            text = keys.sub(lambda m: f"[{m[1]}](<{self.ticket_url(m[1])}>)", text)
        return text
