"""Turn the first-parent history of a branch into changes: one per PR or direct commit.

GitHub leaves three shapes on ``main``:

- a merge commit ``Merge pull request #12 from org/MNTOR-12-login`` whose body
  starts with the PR title; the PR's author wrote the merged branch, so the
  change is credited to the author of the merge's second parent;
- a squash merge ``Fix login (#12)`` (or ``Fix login(#12)``), credited to its author;
- a direct commit, anything else.

A revert is titled ``Revert "X"`` and/or says ``This reverts commit <sha>.``; the
revert of a revert (``Revert "Revert "X""``, or ``Reapply "X"`` from git 2.43)
re-applies X and is flagged ``is_rerevert`` instead of ``is_revert``.

Ticket keys come from the change's title, the merged branch's name and its body
as a :class:`~shipyard.core.tickets.KeySources` says (by default the body only
when the title names no key).

    >>> for change in iter_changes(GitRepo("."), "2024.09.01", "main", ["MNTOR"]):  # doctest: +SKIP
    ...     print(change.pr, change.title, change.tickets)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Literal, NamedTuple, Protocol

from shipyard.core.tickets import (
    DEFAULT_SOURCES,
    Finder,
    KeySources,
    change_keys,
    ticket_finder,
    ticket_hint,
)


class CommitInfo(NamedTuple):
    """One commit as ``git log`` shows it; ``message`` is the full message."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    authored_at: int
    message: str

    @property
    def subject(self) -> str:
        """The first line of the message."""
        return self.message.split("\n", 1)[0]


ChangeKind = Literal["merge", "squash", "direct"]

_MERGE_PREFIX = "Merge pull request #"
_SQUASH_RE = re.compile(r"(.*\S)\s*\(#([0-9]+)\)")
_REVERTS_RE = re.compile(r"^This reverts commit ([0-9a-f]{7,40})", re.MULTILINE)
_REVERT = 'Revert "'
_REAPPLY = 'Reapply "'


class Change(NamedTuple):
    """One change on the branch: a merged PR, a squash merge or a direct commit.

    ``sha`` is the commit on the first-parent chain; ``author`` is who wrote the
    change (the PR's author for a merge), ``reverts`` the SHA named by
    ``This reverts commit <sha>.`` if any. ``labels`` and ``url`` come from the
    forge (``services/forge_notes.py``); from git alone they are empty.

    A named tuple, immutable: one is made per commit of a range (44k for a long
    history), and a tuple is made ~5x faster than a frozen dataclass. A changed
    copy is ``change._replace(title=...)``.
    """

    sha: str
    title: str
    author: str
    author_email: str
    pr: int | None
    kind: ChangeKind
    tickets: tuple[str, ...]
    reverts: str | None
    is_revert: bool
    is_rerevert: bool
    authored_at: int
    labels: tuple[str, ...] = ()
    """The PR's labels, when a forge told them."""
    url: str | None = None
    """The PR's page, when a forge told it."""

    @property
    def ref(self) -> str:
        """How to point at the change in notes: ``#12``, or a short SHA without a PR."""
        return f"#{self.pr}" if self.pr is not None else self.sha[:10]


class CommitSource(Protocol):
    """What :func:`iter_changes` needs from a repository (``GitRepo`` provides it)."""

    def iter_log_records(
        self, since: str | None, until: str, *, first_parent: bool = True
    ) -> Iterator[tuple[str, str, str, str, str, str]]: ...

    def authors_of(self, shas: Sequence[str]) -> dict[str, tuple[str, str]]: ...


def iter_changes(
    repo: CommitSource,
    since: str | None,
    until: str,
    prefixes: Sequence[str],
    sources: KeySources = DEFAULT_SOURCES,
) -> Iterator[Change]:
    """Changes on the first-parent chain of ``since..until``, newest first.

    One streamed ``git log`` (parsed as it arrives) and one batched author
    lookup for the merged branches; the parsed commits of the range are held in
    memory between the two.
    """
    keys = _reader(ticket_finder(tuple(prefixes)), sources)
    hint = ticket_hint(tuple(prefixes))  # half the messages name no key: skip their parts
    make = tuple.__new__  # Change's fields in order, without its __new__'s Python frame
    changes: list[Change] = []
    # Merges wait for their PR author: (index in changes, second parent).
    merges: list[tuple[int, str]] = []
    for sha, parents, name, email, epoch, message in repo.iter_log_records(since, until):
        is_merge = " " in parents
        if is_merge:
            merges.append((len(changes), parents.split(" ", 2)[1]))
        changes.append(
            make(Change, _fields(sha, name, email, epoch, message, is_merge, keys, hint))
        )
    if merges:
        authors = repo.authors_of([m[1] for m in merges])
        for i, second in merges:
            if (author := authors.get(second)) is not None:
                c = changes[i]  # the merge's own author replaced by the branch's
                changes[i] = make(Change, (c[0], c[1], *author, *c[4:]))
    yield from changes


def classify(
    commit: CommitInfo,
    find: Finder,
    pr_author: tuple[str, str] | None = None,
    sources: KeySources = DEFAULT_SOURCES,
) -> Change:
    """The change ``commit`` stands for; ``pr_author`` is the merged branch's (name, email)."""
    name, email = pr_author or (commit.author_name, commit.author_email)
    at, merge = commit.authored_at, len(commit.parents) > 1
    keys = _reader(find, sources)
    fields = _fields(commit.sha, name, email, at, commit.message, merge, keys, _maybe)
    return Change._make(fields)


# A change's fields in order (labels and url empty, as git alone leaves them).
_Fields = tuple[
    str, str, str, str, int | None, ChangeKind, tuple[str, ...], str | None, bool, bool, int,
    tuple[str, ...], None,
]  # fmt: skip
_Keys = Callable[[str, str, str], tuple[str, ...]]


def _reader(find: Finder, sources: KeySources) -> _Keys:
    """The keys of a message's parts (title, merged branch, body): ``change_keys`` with one
    finder and one rule, called without a frame of its own."""
    # By default a title with a key ends the search: the body is never read.
    return partial(change_keys, find, sources=sources)


def _maybe(message: str) -> bool:
    """The hint of a finder nothing is known of: every message may name a key."""
    return True


def _fields(
    sha: str,
    name: str,
    email: str,
    epoch: str | int,
    message: str,
    is_merge: bool,
    keys: _Keys,
    hint: Callable[[str], bool],
) -> _Fields:
    # Runs once per commit of the range: cheap string tests guard every regex.
    subject, _, body = message.partition("\n")
    pr: int | None = None
    kind: ChangeKind = "direct"
    title, branch = subject, ""
    if is_merge:
        kind = "merge"
        if subject.startswith(_MERGE_PREFIX):
            # Merge pull request #12 from org/branch
            number, _, source = subject[len(_MERGE_PREFIX) :].partition(" from ")
            pr = int(number) if number.isdigit() else None
            branch = source.partition("/")[2] or source
            heading, _, rest = body.lstrip().partition("\n")
            title = heading.rstrip() or branch or subject
            body = rest
    elif subject.endswith(")") and "(#" in subject and (m := _SQUASH_RE.fullmatch(subject)):
        kind = "squash"
        title, pr = m[1], int(m[2])

    reverts = None
    if "This reverts commit " in body and (r := _REVERTS_RE.search(body)):
        reverts = r[1]
    tickets = keys(title, branch, body) if hint(message) else ()
    reverting, rereverting = reverts is not None, False
    if title.startswith("Re") and (depth := _revert_depth(title)):
        reverting, rereverting = depth % 2 == 1, depth % 2 == 0
    return (
        sha, title, name, email, pr, kind, tickets, reverts, reverting, rereverting,
        int(epoch), (), None,
    )  # fmt: skip


def _revert_depth(title: str) -> int:
    """How many times ``title`` reverts: 1 for ``Revert "X"``, 2 for ``Revert "Revert "X""``.

    ``Reapply "X"`` is git's name for the revert of ``Revert "X"``.
    """
    depth = 0
    rest = title
    while True:
        if rest.startswith(_REVERT):
            depth += 1
            rest = rest[len(_REVERT) :]
        elif rest.startswith(_REAPPLY):
            depth += 2
            rest = rest[len(_REAPPLY) :]
        else:
            return depth


def reverted_within(changes: Sequence[Change]) -> set[str]:
    """The SHAs of changes a later change of the same range reverts, and of those reverts.

    Such a pair brings nothing: neither names tickets a deploy of the range carries. A
    reverted revert (a re-apply) cancels the revert only, so its original counts again.
    ``changes`` is newest first, as :func:`iter_changes` yields them.

    >>> [c.title for c in changes]  # doctest: +SKIP
    ['Revert "Add alerts (#2)"', 'Add alerts (#2)']
    >>> reverted_within(changes) == {changes[0].sha, changes[1].sha}  # doctest: +SKIP
    True
    """
    cancelled: set[str] = set()
    for i, change in enumerate(changes):
        if change.reverts is None or change.sha in cancelled:
            continue
        target = next((c for c in changes[i + 1 :] if c.sha.startswith(change.reverts)), None)
        if target is not None and target.sha not in cancelled:
            cancelled.update((change.sha, target.sha))
    return cancelled
