"""Reverting merged changes on purpose, and the re-reverts that are then owed.

``revert`` makes the revert commits on a new branch ``revert/<pr>-<title>`` (``git
revert`` of the squash or merge commit, ``-m 1`` for a merge) and, with a forge, pushes
it and opens the PR; each reverted change is recorded as a **re-revert owed** (who, why,
its tickets) until ``services.rereverts.settle`` sees it come back on main. ``rerevert``
prepares the revert of the revert the same way. ``revert_changes`` is the one way of
making reverts: ``revert`` and the stage fixes' ``plan ENV --revert`` both go through it.
A refusal (unknown PR, a commit not on main, a change already reverted, a revert that
conflicts) changes nothing; a failure half-way takes back the branch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from shipyard.adapters.git.branches import delete_branch, make_revert_branch, push_branch
from shipyard.adapters.git.reverts import Revertee
from shipyard.core.changes import Change, classify
from shipyard.core.tickets import ticket_finder
from shipyard.errors import Conflict, GitError, NotFound, Refused, ShipyardError
from shipyard.services.context import Context
from shipyard.services.rereverts import open_owed, revert_on_main
from shipyard.store import audit
from shipyard.store.models import OwedRerevert

_PR_RE = re.compile(r"#?([0-9]{1,9})")
_SHA_RE = re.compile(r"[0-9a-fA-F]{7,40}")
MAX_TARGETS = 20
MAX_REASON = 2000


@dataclass
class Prepared:
    """A branch made (and, with a forge, the PR opened) for a revert or a re-revert."""

    branch: str
    start: str  # the commit the branch starts from
    commits: list[str]
    changes: list[Change] = field(default_factory=list)  # what it reverts, in order
    pr: int | None = None
    url: str | None = None
    owed: list[OwedRerevert] = field(default_factory=list)

    @property
    def head(self) -> str:
        return self.commits[-1] if self.commits else self.start


class _Grep:
    """``iter_changes``' view of the repository limited to messages naming ``word``."""

    def __init__(self, ctx: Context, word: str) -> None:
        self.git, self.word = ctx.git, word

    def iter_log_records(
        self, since: str | None, until: str, *, first_parent: bool = True
    ) -> Iterator[tuple[str, str, str, str, str, str]]:
        return self.git.iter_log_records(since, until, first_parent=first_parent, grep=[self.word])

    def authors_of(self, shas: Sequence[str]) -> dict[str, tuple[str, str]]:
        return self.git.authors_of(shas)


def find_change(ctx: Context, target: str) -> Change:
    """The change on main ``target`` names: a PR number (``12``, ``#12``) or a commit SHA.

    NotFound for an unknown PR or commit; Conflict for a commit that is not on main."""
    from shipyard.core.changes import iter_changes

    app = ctx.settings.app
    head = ctx.git.head_of(app.main)
    if head is None:
        raise NotFound(f"no branch {app.main} in {ctx.settings.repo_path.name}")
    target = target.strip()
    if (m := _PR_RE.fullmatch(target)) and (target.startswith("#") or len(target) < 7):
        number = int(m[1])
        for c in iter_changes(_Grep(ctx, f"#{number}"), None, head, app.ticket_prefixes):
            if c.pr == number:
                return c
        raise NotFound(f"no change on {app.main} merges PR #{number}")
    if not _SHA_RE.fullmatch(target) or (sha := ctx.git.rev_parse(target)) is None:
        raise NotFound(f"unknown PR or commit: {target!r}")
    if not ctx.git.is_ancestor(sha, head):
        raise Conflict(f"{sha[:10]} is not on {app.main}: only merged changes can be reverted")
    finder = ticket_finder(tuple(app.ticket_prefixes))
    return classify(ctx.git.commit(sha), finder, sources=app.key_sources)


def revert(ctx: Context, targets: Sequence[str], reason: str) -> Prepared:
    """Revert the changes ``targets`` name on a new branch off main (a PR with a forge)
    and record a re-revert owed for each."""
    if not targets or len(targets) > MAX_TARGETS:
        raise ShipyardError(f"name 1 to {MAX_TARGETS} PRs or commits to revert")
    _reason(reason)
    changes = _unique([find_change(ctx, t) for t in targets])
    changes.sort(key=lambda c: c.authored_at, reverse=True)  # newest first, as git would
    return revert_changes(ctx, changes, reason)


def revert_changes(
    ctx: Context,
    changes: Sequence[Change],
    reason: str,
    *,
    base: str | None = None,
    branch: str | None = None,
) -> Prepared:
    """Revert ``changes`` (in that order, newest first) on a new branch off ``base`` (main
    by default), named ``branch`` (``revert/<prs>-<title>`` by default); with a forge, push
    it and open the PR. Record a re-revert owed for each change, audited. Conflict for a
    change already reverted, Refused when a revert conflicts; either leaves nothing."""
    reason = ctx.scrubber.text(_reason(reason))
    if not changes or len(changes) > MAX_TARGETS:
        raise ShipyardError(f"name 1 to {MAX_TARGETS} PRs or commits to revert")
    _check_not_owed(ctx, changes)
    refs = "-".join(c.ref.lstrip("#") for c in changes[:3])
    branch = branch or f"revert/{refs}-{_slug(changes[0].title)}"
    titles = ", ".join(f"{c.ref} {c.title}" for c in changes)
    prepared = _prepare(
        ctx,
        branch,
        base or ctx.settings.app.main,
        {c.sha: c.ref for c in changes},
        (f"Revert {titles}", _body("Reverts", changes, reason, ctx)),
    )
    prepared.changes = list(changes)
    try:
        prepared.owed = ctx.store.retrying(lambda s: _record(ctx, s, prepared, reason))
    except BaseException:
        _take_back(ctx, prepared)
        raise
    return prepared


def _check_not_owed(ctx: Context, changes: Sequence[Change]) -> None:
    with ctx.store.read() as s:
        owed = {o.sha: o for o in open_owed(s, ctx.app_id)}
    for c in changes:
        if (o := owed.get(c.sha)) is not None:
            raise Conflict(f"{c.ref} is already reverted (by {o.reverted_by} on {o.branch})")


def _record(ctx: Context, session: Session, prepared: Prepared, reason: str) -> list[OwedRerevert]:
    """A re-revert owed and an audit record ``revert.made`` for each reverted change."""
    rows = []
    now = datetime.now(UTC)
    branch = prepared.branch
    for c, made in zip(prepared.changes, prepared.commits, strict=True):
        row = OwedRerevert(
            app_id=ctx.app_id, sha=c.sha, pr=c.pr, title=c.title,
            tickets=json.dumps(list(c.tickets)), reason=reason, reverted_by=ctx.actor,
            reverted_at=now, branch=branch, revert_sha=made, revert_pr=prepared.pr,
            revert_url=prepared.url,
        )  # fmt: skip
        session.add(row)
        audit.append(
            session, actor=ctx.actor, app=ctx.app_name, action="revert.made",
            subject=c.ref, data={"commit": c.sha, "branch": branch, "revert": made,
                                 "start": prepared.start, "reason": reason, "pr": prepared.pr},
        )  # fmt: skip
        rows.append(row)
    session.flush()
    return rows


def rerevert(ctx: Context, target: str) -> Prepared:
    """Prepare the revert of the revert of the change ``target`` names (a branch, or a PR
    with a forge); Conflict when no re-revert is owed or its revert is not on main yet."""

    change = find_change(ctx, target)
    with ctx.store.read() as s:
        row = next((o for o in open_owed(s, ctx.app_id) if o.sha == change.sha), None)
    if row is None:
        raise Conflict(f"no re-revert is owed for {change.ref}")
    landed = revert_on_main(ctx, row)
    if landed is None:
        raise Conflict(
            f"the revert of {change.ref} is not on {ctx.settings.app.main} yet "
            f"(branch {row.branch}): nothing to re-revert"
        )
    branch = f"rerevert/{change.ref.lstrip('#')}-{_slug(change.title)}"
    body = _body("Re-applies", [change], f"re-revert of {landed[:10]}", ctx)
    title = f'Revert "Revert "{change.title}""'
    main = ctx.settings.app.main
    prepared = _prepare(ctx, branch, main, {landed: f"the revert of {change.ref}"}, (title, body))

    def write(session: Session) -> None:
        audit.append(
            session, actor=ctx.actor, app=ctx.app_name, action="revert.rerevert_prepared",
            subject=change.ref, data={"commit": change.sha, "branch": branch, "pr": prepared.pr},
        )  # fmt: skip

    try:
        ctx.store.retrying(write)
    except BaseException:
        _take_back(ctx, prepared)
        raise
    return prepared


def _prepare(
    ctx: Context, branch: str, base: str, refs: dict[str, str], pr: tuple[str, str]
) -> Prepared:
    """The branch off ``base`` reverting the commits ``refs`` names (SHA -> what to call it,
    in order), pushed and proposed as a PR (title, body) when a forge is configured."""
    name = ctx.actor.split("@")[0] or "shipyard"
    email = ctx.actor if "@" in ctx.actor else f"{ctx.actor}@localhost"
    title, body = pr
    start = ctx.git.resolve(base)
    revertees = [Revertee(sha, _is_merge(ctx, sha)) for sha in refs]
    trailer = body.split("\n\n", 1)[-1]
    out = make_revert_branch(
        ctx.git, branch, start, revertees, author=(name, email), trailer=trailer
    )
    if out.conflicts:
        raise Refused(
            "reverting "
            + "; ".join(f"{refs[s]} conflicts in {', '.join(f)}" for s, f in out.conflicts.items())
            + ": revert by hand",
            conflicts={refs[s]: f for s, f in out.conflicts.items()},
        )
    prepared = Prepared(branch, start, out.commits)
    remote = ctx.settings.app.remote
    forge = ctx.settings.forge.kind != "git"
    if forge and not remote:
        delete_branch(ctx.git, branch)
        raise ShipyardError("a forge PR needs [app] remote: the branch is pushed there first")
    try:
        if remote:
            push_branch(ctx.git, remote, branch)
        if forge:
            try:
                opened = ctx.forge.open_pull_request(
                    head=branch, base=ctx.settings.app.main, title=title, body=body
                )
            finally:
                ctx.close_forge()
            if opened is not None:
                prepared.pr, prepared.url = opened.number, opened.url
    except BaseException:
        _take_back(ctx, prepared, pushed=bool(remote))
        raise
    return prepared


def _take_back(ctx: Context, prepared: Prepared, *, pushed: bool | None = None) -> None:
    """Remove a branch made for an action that then failed (local, and the pushed copy)."""
    remote = ctx.settings.app.remote
    if (pushed if pushed is not None else bool(remote)) and remote:
        ctx.git._exec(["push", "--quiet", remote, "--delete", f"refs/heads/{prepared.branch}"])
    try:
        delete_branch(ctx.git, prepared.branch)
    except GitError:
        ctx.reporter.warn(f"branch {prepared.branch} could not be removed")


def _body(verb: str, changes: Sequence[Change], reason: str, ctx: Context) -> str:
    lines = [f"{verb} {', '.join(c.ref for c in changes)}."]
    lines.append("")
    lines.append(f"Reason: {reason}")
    lines.append(f"Reverted-by: {ctx.actor}")
    return "\n".join(lines)


def _reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise ShipyardError('a revert needs --reason "..." saying why')
    if len(reason) > MAX_REASON:
        raise ShipyardError(f"--reason is {len(reason)} characters long; at most {MAX_REASON}")
    return reason


def _unique(changes: list[Change]) -> list[Change]:
    return list({c.sha: c for c in changes}.values())


def _is_merge(ctx: Context, sha: str) -> bool:
    return len(ctx.git.commit(sha).parents) > 1


def _slug(title: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return words[:40].rstrip("-") or "change"
