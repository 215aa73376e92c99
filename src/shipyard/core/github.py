"""GitHub webhook payloads, read into what they mean for the train. Pure: no I/O.

``parse(event, payload)`` takes the ``X-GitHub-Event`` name and the decoded JSON
body and returns one intent, or raises :class:`PayloadError` naming the bad field::

    >>> parse("push", {"ref": "refs/heads/main", "after": "a" * 40, ...})
    Push(repository='org/app', branch='main', tag=None, after='aaaa...', deleted=False, ...)

Check results (``status``, ``check_run``, ``check_suite``, ``workflow_run``) all
become a :class:`CheckReport` whose ``status`` is ``passed``, ``failed`` or
``running``, the vocabulary of the ``checks`` table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shipyard.core.builds import FAILED, PASSED, RUNNING
from shipyard.core.repo_names import (
    repository_name as repository_name,  # its callers import it here
)

EVENTS = (
    "ping",
    "push",
    "pull_request",
    "status",
    "check_run",
    "check_suite",
    "workflow_run",
    "create",
    "release",
)

SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
ZERO_SHA = "0" * 40
NAME_LIMIT = 64
# What GitHub's branch protection counts as a passing conclusion.
_PASSING = frozenset({"success", "neutral", "skipped"})
_FAILING = frozenset(
    {"failure", "cancelled", "timed_out", "action_required", "stale", "startup_failure"}
)
_STATUS_STATES = {"success": PASSED, "failure": FAILED, "error": FAILED, "pending": RUNNING}


class PayloadError(ValueError):
    """A payload that is not what GitHub sends for its event; ``path`` names the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = str(self)


@dataclass(frozen=True)
class Ping:
    repository: str | None
    zen: str


@dataclass(frozen=True)
class Push:
    repository: str
    branch: str | None  # None for a tag
    tag: str | None
    after: str
    deleted: bool
    sender: str


@dataclass(frozen=True)
class Merged:
    """A pull request closed by merging it into ``base``."""

    repository: str
    number: int
    base: str
    merge_commit: str | None
    title: str
    sender: str


@dataclass(frozen=True)
class CheckReport:
    """One named check's result on one commit, from any of GitHub's check events."""

    repository: str
    sha: str
    branches: tuple[str, ...]
    name: str
    status: str  # passed | failed | running
    detail: str
    url: str | None
    subject: str
    author: str
    sender: str


@dataclass(frozen=True)
class RefCreated:
    repository: str
    ref_type: str  # branch | tag
    ref: str
    sender: str


@dataclass(frozen=True)
class ReleaseEvent:
    repository: str
    action: str
    tag: str
    target: str
    sender: str


@dataclass(frozen=True)
class Skip:
    """A well-formed event that asks nothing of the train (a PR closed unmerged, ...)."""

    repository: str | None
    reason: str


Intent = Ping | Push | Merged | CheckReport | RefCreated | ReleaseEvent | Skip


def parse(event: str, payload: Any) -> Intent:
    """The intent of one delivery (a Skip for an event Shipyard does not act on);
    PayloadError if it cannot be read."""
    if not isinstance(payload, dict):
        raise PayloadError("", "the body must be a JSON object")
    reader = _READERS.get(event)
    if reader is None:
        # GitHub counts a 4xx as a failed delivery; an event we do not act on is no failure.
        repository = _get(payload, "repository.full_name", str, optional=True)
        return Skip(repository, f"Shipyard does not act on {event!r} events")
    return reader(payload)


# -- field access -----------------------------------------------------------------------------


def _get(
    data: dict[str, Any], path: str, kind: type | tuple[type, ...], *, optional: bool = False
) -> Any:
    """The value at dotted ``path``, checked against ``kind``; None only when ``optional``."""
    value: Any = data
    for key in path.split("."):
        if value is None:
            break
        if not isinstance(value, dict):
            raise PayloadError(path, "missing (its parent is not an object)")
        value = value.get(key)
    if value is None:
        if optional:
            return None
        raise PayloadError(path, "is required")
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise PayloadError(path, "has the wrong type")
    if not isinstance(value, kind):
        raise PayloadError(path, "has the wrong type")
    return value


def _sha(data: dict[str, Any], path: str) -> str:
    value: str = _get(data, path, str)
    if not SHA_RE.match(value):
        raise PayloadError(path, "is not a commit SHA")
    return value


def _repo(data: dict[str, Any]) -> str:
    name: str = _get(data, "repository.full_name", str)
    return name


def _sender(data: dict[str, Any]) -> str:
    login = _get(data, "sender.login", str, optional=True)
    return login or "github"


def _text(data: dict[str, Any], path: str) -> str:
    value = _get(data, path, str, optional=True)
    return value or ""


def _first_line(message: str) -> str:
    return message.strip().split("\n", 1)[0][:500]


def _conclusion(data: dict[str, Any], path: str, *, pending_ok: bool = False) -> str:
    """PASSED or FAILED; RUNNING for no conclusion yet where ``pending_ok`` allows it."""
    value: str | None = _get(data, path, str, optional=pending_ok)
    if value is None:  # not concluded yet: the run is still going
        return RUNNING
    if value in _PASSING:
        return PASSED
    if value in _FAILING:
        return FAILED
    raise PayloadError(path, f"unknown conclusion {value!r}")


# -- one reader per event ---------------------------------------------------------------------


def _ping(p: dict[str, Any]) -> Intent:
    repo = _get(p, "repository.full_name", str, optional=True)
    return Ping(repository=repo, zen=_text(p, "zen"))


def _push(p: dict[str, Any]) -> Intent:
    ref: str = _get(p, "ref", str)
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    tag = ref.removeprefix("refs/tags/") if ref.startswith("refs/tags/") else None
    deleted = _get(p, "deleted", bool, optional=True) or False
    return Push(
        repository=_repo(p),
        branch=branch,
        tag=tag,
        after=_sha(p, "after"),
        deleted=bool(deleted) or p.get("after") == ZERO_SHA,
        sender=_sender(p),
    )


def _pull_request(p: dict[str, Any]) -> Intent:
    action: str = _get(p, "action", str)
    repo = _repo(p)
    merged = _get(p, "pull_request.merged", bool, optional=True)
    if action != "closed" or not merged:
        return Skip(repo, f"pull request {action}{'' if merged else ', not merged'}")
    merge_commit = _get(p, "pull_request.merge_commit_sha", str, optional=True)
    if merge_commit is not None and not SHA_RE.match(merge_commit):
        raise PayloadError("pull_request.merge_commit_sha", "is not a commit SHA")
    return Merged(
        repository=repo,
        number=_get(p, "pull_request.number", int),
        base=_get(p, "pull_request.base.ref", str),
        merge_commit=merge_commit,
        title=_text(p, "pull_request.title")[:500],
        sender=_sender(p),
    )


def _status(p: dict[str, Any]) -> Intent:
    state: str = _get(p, "state", str)
    if state not in _STATUS_STATES:
        raise PayloadError("state", f"unknown state {state!r}")
    branches = _get(p, "branches", list, optional=True) or []
    names = tuple(
        b["name"] for b in branches if isinstance(b, dict) and isinstance(b.get("name"), str)
    )
    return CheckReport(
        repository=_repo(p),
        sha=_sha(p, "sha"),
        branches=names,
        name=_get(p, "context", str)[:NAME_LIMIT],
        status=_STATUS_STATES[state],
        detail=_text(p, "description"),
        url=_get(p, "target_url", str, optional=True),
        subject=_first_line(_text(p, "commit.commit.message")),
        author=_text(p, "commit.commit.author.name"),
        sender=_sender(p),
    )


def _check_run(p: dict[str, Any]) -> Intent:
    action: str = _get(p, "action", str)
    if action != "completed":
        return Skip(_repo(p), f"check run {action}; only completed runs count")
    branch = _get(p, "check_run.check_suite.head_branch", str, optional=True)
    summary = _get(p, "check_run.output.summary", str, optional=True)
    title = _get(p, "check_run.output.title", str, optional=True)
    return CheckReport(
        repository=_repo(p),
        sha=_sha(p, "check_run.head_sha"),
        branches=(branch,) if branch else (),
        name=_get(p, "check_run.name", str)[:NAME_LIMIT],
        status=_conclusion(p, "check_run.conclusion"),
        detail="\n".join(t for t in (title, summary) if t),
        url=_get(p, "check_run.details_url", str, optional=True)
        or _get(p, "check_run.html_url", str, optional=True),
        subject="",
        author="",
        sender=_sender(p),
    )


def _check_suite(p: dict[str, Any]) -> Intent:
    action: str = _get(p, "action", str)
    if action != "completed":
        return Skip(_repo(p), f"check suite {action}; only completed suites count")
    branch = _get(p, "check_suite.head_branch", str, optional=True)
    name = _get(p, "check_suite.app.slug", str, optional=True) or _get(
        p, "check_suite.app.name", str
    )
    return CheckReport(
        repository=_repo(p),
        sha=_sha(p, "check_suite.head_sha"),
        branches=(branch,) if branch else (),
        name=name[:NAME_LIMIT],
        status=_conclusion(p, "check_suite.conclusion"),
        detail="",
        url=None,
        subject=_first_line(_text(p, "check_suite.head_commit.message")),
        author=_text(p, "check_suite.head_commit.author.name"),
        sender=_sender(p),
    )


def _workflow_run(p: dict[str, Any]) -> Intent:
    # Requested and in progress too: until its conclusion the run is a running check.
    _get(p, "action", str)
    branch = _get(p, "workflow_run.head_branch", str, optional=True)
    name = _get(p, "workflow_run.name", str, optional=True) or _get(p, "workflow.name", str)
    return CheckReport(
        repository=_repo(p),
        sha=_sha(p, "workflow_run.head_sha"),
        branches=(branch,) if branch else (),
        name=name[:NAME_LIMIT],
        status=_conclusion(p, "workflow_run.conclusion", pending_ok=True),
        detail="",
        url=_get(p, "workflow_run.html_url", str, optional=True),
        subject=_first_line(_text(p, "workflow_run.head_commit.message")),
        author=_text(p, "workflow_run.head_commit.author.name"),
        sender=_sender(p),
    )


def _create(p: dict[str, Any]) -> Intent:
    ref_type: str = _get(p, "ref_type", str)
    if ref_type not in ("branch", "tag"):
        raise PayloadError("ref_type", f"unknown ref type {ref_type!r}")
    return RefCreated(_repo(p), ref_type, _get(p, "ref", str), _sender(p))


def _release(p: dict[str, Any]) -> Intent:
    return ReleaseEvent(
        repository=_repo(p),
        action=_get(p, "action", str),
        tag=_get(p, "release.tag_name", str),
        target=_text(p, "release.target_commitish"),
        sender=_sender(p),
    )


_READERS = {
    "ping": _ping,
    "push": _push,
    "pull_request": _pull_request,
    "status": _status,
    "check_run": _check_run,
    "check_suite": _check_suite,
    "workflow_run": _workflow_run,
    "create": _create,
    "release": _release,
}
