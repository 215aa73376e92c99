"""Release notes: group changes into sections, list their tickets for QA, render.

Grouping is data: an ordered list of :class:`GroupRule`, the first rule that
matches a change takes it. Changes by excluded authors (bots, usually) are left
out and only counted.

    >>> notes = build_notes(changes, exclude_authors=["dependabot[bot]"])  # doctest: +SKIP
    >>> print(render_markdown(notes, title="Release 2024.09.02", range_label="2024.09.01..2024.09.02"))
    ... # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, NamedTuple

from shipyard.core.changes import Change
from shipyard.core.tickets import NOT_SEEN, ticket_sort_key

JSON_SCHEMA_VERSION = 1


class _RuleFields(NamedTuple):
    key: str
    title: str
    pattern: str | None = None
    reverts: bool = False
    labels: tuple[str, ...] = ()


class GroupRule(_RuleFields):
    """A section of the notes and which changes it takes.

    ``pattern`` is a regular expression searched case-insensitively in the
    change's title (a bad one is a ValueError here); ``reverts`` takes reverts and
    re-reverts; ``labels`` takes a change with any of these PR labels (compared
    case-insensitively, as GitHub does). A rule with none of them takes every change
    (a catch-all, put it last).

    A named tuple, not a dataclass: ``shipyard notes`` then imports no ``dataclasses``
    (and its ``inspect``), a tenth of its start-up.
    """

    __slots__ = ()

    def __new__(
        cls,
        key: str,
        title: str,
        pattern: str | None = None,
        reverts: bool = False,
        labels: tuple[str, ...] = (),
    ) -> GroupRule:
        if pattern:
            _title_search(key, pattern)
        folded = tuple(label.casefold() for label in labels)
        return super().__new__(cls, key, title, pattern, reverts, folded)

    @property
    def search(self) -> Callable[[str], re.Match[str] | None] | None:
        """The compiled pattern's ``search``, or None without a pattern."""
        return _title_search(self.key, self.pattern) if self.pattern else None

    @property
    def catch_all(self) -> bool:
        return self.pattern is None and not self.reverts and not self.labels

    def matches(self, change: Change) -> bool:
        """Whether this rule takes ``change`` (if no earlier rule did)."""
        if self.reverts and (change.is_revert or change.is_rerevert):
            return True
        if self.labels and any(label.casefold() in self.labels for label in change.labels):
            return True
        if (search := self.search) is not None:
            return search(change.title) is not None
        return self.catch_all


def _title_search(key: str, pattern: str) -> Callable[[str], re.Match[str] | None]:
    try:
        return _compiled(pattern).search
    except re.error as exc:
        raise ValueError(f"group {key!r}: bad pattern {pattern!r}: {exc}") from None


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def label_rules(groups: Mapping[str, str]) -> list[GroupRule]:
    """One rule per ``label -> heading`` of ``[notes] groups``, in order: the first
    entry naming one of a change's labels takes it. Rules with one heading end up in
    one section (:func:`build_notes` joins sections by title)."""
    return [GroupRule(_key(title), title, labels=(label,)) for label, title in groups.items()]


def _key(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.casefold()).strip("-") or "group"


DEFAULT_GROUPS: tuple[GroupRule, ...] = (
    GroupRule(
        "features",
        "Features",
        r"^(feat|feature|add|adds|added|new|implement|introduce|support|enable)\b",
    ),
    GroupRule(
        "fixes",
        "Fixes",
        r"^(fix|fixes|fixed|bug|bugfix|hotfix|patch|resolve|correct|repair)\b",
    ),
    GroupRule("reverts", "Reverts", reverts=True),
    GroupRule("other", "Other changes"),
)
"""Features, fixes, reverts, then everything else. Conventional-commit titles
(``feat(api): ...``, ``fix: ...``) match too."""

_OTHER = GroupRule("other", "Other changes")


class Section(NamedTuple):
    """A section of the notes: its rule's key and title, and the changes it took."""

    key: str
    title: str
    changes: tuple[Change, ...]


class TicketLine(NamedTuple):
    """A ticket the release touches, its QA status and the changes that name it.

    A named tuple, as ``Change`` is: one is made per ticket of the range (16k on a long
    history), and a tuple is made several times faster than a frozen dataclass."""

    key: str
    status: str
    changes: tuple[Change, ...]


class Notes:
    """What :func:`build_notes` found, for the renderers."""

    __slots__ = ("excluded", "sections", "tickets")

    def __init__(
        self, sections: tuple[Section, ...], tickets: tuple[TicketLine, ...], excluded: int
    ) -> None:
        self.sections = sections
        """Non-empty sections, in the order of the rules."""
        self.tickets = tickets
        """Sorted by prefix, then number."""
        self.excluded = excluded
        """Changes left out because of their author."""

    @property
    def count(self) -> int:
        """Changes listed (excluded ones not counted)."""
        return sum(len(s.changes) for s in self.sections)


class AuthorFilter:
    """Matches a change's author name or email against globs, exact match first.

    Exact comparison comes first because a name like ``dependabot[bot]`` is a
    glob with a character class that would not match itself.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        self._exact = {p.casefold() for p in patterns}
        self._globs = [p.casefold() for p in patterns if any(c in p for c in "*?[")]
        self._seen: dict[tuple[str, str], bool] = {}

    def __call__(self, name: str, email: str) -> bool:
        key = (name, email)
        hit = self._seen.get(key)
        if hit is None:
            hit = self._seen[key] = self._match(name.casefold(), email.casefold())
        return hit

    def _match(self, name: str, email: str) -> bool:
        if name in self._exact or email in self._exact:
            return True
        return any(fnmatchcase(name, g) or fnmatchcase(email, g) for g in self._globs)


def build_notes(
    changes: Iterable[Change],
    *,
    exclude_authors: Sequence[str] = (),
    groups: Sequence[GroupRule] = DEFAULT_GROUPS,
    statuses: Mapping[str, str] | None = None,
) -> Notes:
    """Group ``changes`` by the first matching rule and collect their tickets.

    ``statuses`` maps ticket keys to QA statuses; a ticket missing from it shows
    "not seen by QA yet". A change no rule takes goes to a trailing "Other changes".
    """
    pairs, plan = _plan(groups)
    by_ticket: dict[str, list[Change]] = {}
    excluded = 0
    is_excluded = AuthorFilter(exclude_authors)
    # The filter's answer per (name, email), looked up here without a call per change.
    answers: dict[tuple[str, str], bool] = {}
    for change in changes:  # once per change of the range: keep it lean
        who = (change.author, change.author_email)
        if (hit := answers.get(who)) is None:
            hit = answers[who] = is_excluded(*who)
        if hit:
            excluded += 1
            continue
        title = change.title
        for search, test, bucket in plan:
            if search is not None:
                if search(title):
                    bucket.append(change)
                    break
            elif test is None or test(change):
                bucket.append(change)
                break
        for ticket in change.tickets:
            if (listed := by_ticket.get(ticket)) is None:
                by_ticket[ticket] = [change]
            else:
                listed.append(change)

    known = statuses or {}
    make = tuple.__new__  # a TicketLine's fields in order, without its __new__'s frame
    tickets = tuple(
        [
            make(TicketLine, (key, known.get(key, NOT_SEEN), tuple(by_ticket[key])))
            for key in sorted(by_ticket, key=ticket_sort_key)
        ]
    )
    return Notes(_sections(pairs), tickets, excluded)


def _plan(groups: Sequence[GroupRule]) -> tuple[list[tuple[GroupRule, list[Change]]], list[_Step]]:
    """Each rule (and a trailing "Other changes" if none takes everything) with its
    bucket, and how :func:`build_notes` tests them in order."""
    rules = list(groups)
    if not any(r.catch_all for r in rules):
        rules.append(_OTHER)
    pairs: list[tuple[GroupRule, list[Change]]] = [(rule, []) for rule in rules]
    return pairs, [_step(rule, bucket) for rule, bucket in pairs]


_Step = tuple[Callable[[str], object] | None, Callable[[Change], bool] | None, list[Change]]


def _step(rule: GroupRule, bucket: list[Change]) -> _Step:
    """How :func:`build_notes` tests ``rule``: ``(search, None, bucket)`` for a rule
    that only searches the title, ``(None, None, bucket)`` for a catch-all, ``(None,
    test, bucket)`` for anything else (``test(change)``)."""
    if rule.catch_all:
        return None, None, bucket
    if rule.search is not None and not rule.reverts and not rule.labels:
        return rule.search, None, bucket
    if rule.reverts and rule.search is None and not rule.labels:
        return None, _reverting, bucket
    return None, rule.matches, bucket


def _reverting(change: Change) -> bool:
    """``GroupRule("reverts", ..., reverts=True).matches``, without its other tests."""
    return change.is_revert or change.is_rerevert


def _sections(pairs: Sequence[tuple[GroupRule, list[Change]]]) -> tuple[Section, ...]:
    """Non-empty sections in the order of their rules; rules with one title (a label
    rule "Fixes" and the title rule "Fixes") make one section where the first stands."""
    by_title: dict[str, tuple[str, list[Change]]] = {}
    for rule, bucket in pairs:
        if bucket:
            by_title.setdefault(rule.title, (rule.key, []))[1].extend(bucket)
    return tuple(Section(key, title, tuple(cs)) for title, (key, cs) in by_title.items())


def render_markdown(notes: Notes, *, title: str, range_label: str) -> str:
    """Notes as Markdown, so they paste anywhere.

    One ``## Section`` per group with ``- Title (#12) by Bob · MNTOR-1, MNTOR-2``
    lines, then a ``## QA`` table ``| Ticket | Status | Changes |``. A change the
    forge described links its PR and names its author's login:
    ``- Title ([#12](https://github.com/acme/web/pull/12)) by @octocat``.
    """
    out = [f"# {title}", "", f"{range_label}: {_summary(notes)}", ""]
    for section in notes.sections:
        out += [f"## {section.title}", ""]
        out += _change_lines(section.changes)
        out.append("")
    out += ["## QA", ""]
    if notes.tickets:
        out += ["| Ticket | Status | Changes |", "| --- | --- | --- |"]
        cells = {status: _cell(status) for status in {t.status for t in notes.tickets}}
        out += [
            f"| {t.key} | {cells[t.status]} | {', '.join([_ref(c) for c in t.changes])} |"
            for t in notes.tickets
        ]
    else:
        out.append("No tickets.")
    return "\n".join(out) + "\n"


def _summary(notes: Notes) -> str:
    n = notes.count
    text = f"{n} change{'s' if n != 1 else ''}"
    if notes.excluded:
        text += f", {notes.excluded} by excluded authors left out"
    return text


def _ref(c: Change) -> str:
    """``c.ref``, without the property's call (once per change and ticket)."""
    return c.sha[:10] if c.pr is None else f"#{c.pr}"


def _change_lines(changes: Iterable[Change]) -> list[str]:
    """One line per change: ``- Title (#12) by Bob · MNTOR-1``, or with the PR's link."""
    lines = []
    for c in changes:  # once per change of the range: one frame for them all
        ref = c.sha[:10] if c.pr is None else f"#{c.pr}"
        if c.url is not None:
            line = f"- {c.title} ([{ref}]({c.url})) by @{c.author}"
        else:
            line = f"- {c.title} ({ref}) by {c.author}"
        lines.append(f"{line} · {', '.join(c.tickets)}" if c.tickets else line)
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_json(notes: Notes, *, title: str, range_label: str) -> str:
    """Notes as JSON with stable keys, in this order::

        {"schema": 1, "title": str, "range": str, "count": int, "excluded": int,
         "sections": [{"key", "title", "changes": [CHANGE, ...]}],
         "tickets": [{"key", "status", "changes": [sha, ...]}]}

    where CHANGE is ``{"sha", "title", "author", "author_email", "pr" (int or
    null), "kind" ("merge" | "squash" | "direct"), "tickets" [str], "reverts"
    (sha or null), "is_revert", "is_rerevert", "authored_at" (epoch seconds),
    "labels" [str], "url" (the PR's page or null)}``; ``labels`` and ``url`` come
    from the forge, ``author`` is then the PR author's login.
    """
    doc: dict[str, Any] = {
        "schema": JSON_SCHEMA_VERSION,
        "title": title,
        "range": range_label,
        "count": notes.count,
        "excluded": notes.excluded,
        "sections": [
            {"key": s.key, "title": s.title, "changes": [change_dict(c) for c in s.changes]}
            for s in notes.sections
        ],
        "tickets": [
            {"key": t.key, "status": t.status, "changes": [c.sha for c in t.changes]}
            for t in notes.tickets
        ],
    }
    return dumps_indented(doc) + "\n"


def dumps_indented(doc: Any) -> str:
    """``json.dumps(doc, indent=2, ensure_ascii=False)``, encoded by orjson in C.

    The standard library encodes indented JSON in pure Python, ~5x slower. orjson
    refuses what JSON cannot say exactly (a lone surrogate from a forge's escaped
    text, an integer beyond 64 bits): those documents go the standard library's way.
    """
    import orjson  # only the JSON format needs it

    try:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONEncodeError:
        import json

        return json.dumps(doc, indent=2, ensure_ascii=False)


def change_dict(c: Change) -> dict[str, Any]:
    """A change as the JSON object :func:`render_json` documents."""
    return {
        "sha": c.sha,
        "title": c.title,
        "author": c.author,
        "author_email": c.author_email,
        "pr": c.pr,
        "kind": c.kind,
        "tickets": list(c.tickets),
        "reverts": c.reverts,
        "is_revert": c.is_revert,
        "is_rerevert": c.is_rerevert,
        "authored_at": c.authored_at,
        "labels": list(c.labels),
        "url": c.url,
    }
