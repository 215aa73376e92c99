"""Stage fixes: the ways out when what the upstream environment runs cannot go on for QA.

When ENV (prod) requires QA and the range from what it runs to what its upstream
(stage) runs names unverified tickets, there are two ways out:

- *an earlier commit*: the newest commit that succeeded on the upstream and whose
  range from ENV's version is fully verified; it leaves the later changes behind;
- *reverts*: the changes that name unverified tickets, reverted on top of the
  upstream's commit. A trial revert in a temporary work tree says whether each
  applies, and which later changes touch the same files.

:func:`plan_fixes` only reads (the trial leaves no ref); ``fix_actions`` acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from shipyard.core import states as st
from shipyard.core.gates import unverified
from shipyard.errors import NotFound, ShipyardError
from shipyard.services.context import Context
from shipyard.services.deploy.changes import changes_between, range_base, tickets_of
from shipyard.store.models import Deployment
from shipyard.store.queries import current_of

MAX_RAN = 1000
"""How many of the upstream's newest successful deployments are candidates."""


@dataclass
class Earlier:
    """Way (a): release an earlier commit that ran on the upstream."""

    commit: str
    release_tag: str | None  # a release tag ENV accepts already on the commit
    brings: list[Any]
    leaves: list[Any]  # the changes after it, newest first
    left_tickets: dict[str, str]


@dataclass
class RevertPick:
    """Way (b): one change to revert, the unverified tickets it names, and its risks."""

    change: Any
    unverified: list[str]
    overlaps: list[str]  # later changes (their refs) touching the same files
    conflicts: list[str]  # files its trial revert conflicts in; [] when it applies


@dataclass
class FixPlan:
    environment: str
    upstream: str
    running: str | None
    running_ref: str | None
    head: str
    head_ref: str
    changes: list[Any]
    tickets: dict[str, str]  # what the QA gate counts: key -> raw status
    statuses: dict[str, str]  # every key the changes name (reverted ones too)
    earlier: Earlier | None
    reverts: list[RevertPick] = field(default_factory=list)

    @property
    def unverified(self) -> list[str]:
        return unverified(self.tickets)

    @property
    def reverts_apply(self) -> bool:
        return all(not r.conflicts for r in self.reverts)


def plan_fixes(ctx: Context, environment: str, *, trial: bool = True) -> FixPlan:
    """The ways out for ``environment``; refuses when there is nothing to fix."""
    cfg = ctx.settings.environment(environment)
    upstream = cfg.after
    if upstream is None:
        raise ShipyardError(f"{environment} has no upstream environment ('after'): nothing to plan")
    with ctx.store.read() as s:
        current = current_of(s, ctx.environment_row(s, environment))
        up_env = ctx.environment_row(s, upstream)
        up = current_of(s, up_env)
        ran = _ran_on(s, up_env.id)
    if up is None:
        raise NotFound(f"{upstream} runs nothing yet: nothing to plan for {environment}")
    head, running = up.commit, current.commit if current else None
    if running is not None and not ctx.git.is_ancestor(running, head):
        raise ShipyardError(
            f"{upstream}'s {head[:7]} does not contain what {environment} runs ({running[:7]})"
        )
    changes = changes_between(ctx, range_base(ctx, running, head), head)
    statuses = _statuses(ctx, sorted({k for c in changes for k in c.tickets}))
    tickets = {k: statuses[k] for k in tickets_of(changes)}
    if not cfg.require_qa:
        raise ShipyardError(f"nothing to fix: {environment} does not require QA")
    if not unverified(tickets):
        n = len(tickets)
        raise ShipyardError(
            f"nothing to fix: {upstream}'s {head[:7]} has {n} ticket{'s' if n != 1 else ''} "
            f"for {environment}, all verified: cut a release and deploy it"
        )
    return FixPlan(
        environment=environment,
        upstream=upstream,
        running=running,
        running_ref=current.ref if current else None,
        head=head,
        head_ref=up.ref,
        changes=changes,
        tickets=tickets,
        statuses=statuses,
        earlier=_earlier(ctx, environment, changes, ran, statuses),
        reverts=_reverts(ctx, head, changes, unverified(tickets), trial),
    )


def _ran_on(s: Any, env_id: int) -> set[str]:
    rows = s.execute(
        select(Deployment.commit)
        .where(Deployment.environment_id == env_id, Deployment.state == st.SUCCEEDED)
        .order_by(Deployment.id.desc())
        .limit(MAX_RAN)
    ).scalars()
    return set(rows)


def _statuses(ctx: Context, keys: list[str]) -> dict[str, str]:
    with ctx.store.read() as s:
        return ctx.tracker.raw_statuses(s, keys)


def _earlier(
    ctx: Context, environment: str, changes: list[Any], ran: set[str], statuses: dict[str, str]
) -> Earlier | None:
    """The newest change that ran on the upstream whose range is fully verified."""
    for i, change in enumerate(changes):
        if change.sha not in ran:
            continue
        brings = changes[i:]
        if unverified({k: statuses[k] for k in tickets_of(brings)}):
            continue
        leaves = changes[:i]
        left = {k: statuses[k] for k in tickets_of(leaves)}
        tag = _release_on(ctx, environment, change.sha)
        return Earlier(change.sha, tag, brings, leaves, left)
    return None


def _release_on(ctx: Context, environment: str, commit: str) -> str | None:
    from shipyard.core.tags import release_sort_key

    cfg = ctx.settings.environment(environment)
    tags = [
        t
        for t in ctx.git.merged_tags(commit)
        if cfg.accepts_ref(t) and ctx.git.tag_target(t) == commit
    ]
    return max(tags, key=release_sort_key) if tags else None


def _reverts(
    ctx: Context, head: str, changes: list[Any], missing: list[str], trial: bool
) -> list[RevertPick]:
    """The changes naming ``missing`` tickets (not already reverted), newest first."""
    from shipyard.adapters.git.reverts import files_of
    from shipyard.core.changes import reverted_within

    gone = reverted_within(changes)
    wanted = set(missing)
    picks = [c for c in changes if c.sha not in gone and wanted.intersection(c.tickets)]
    if not picks:
        return []
    oldest = changes.index(picks[-1])
    files = {c.sha: files_of(ctx.git, c.sha) for c in changes[: oldest + 1] if c.sha not in gone}
    conflicts = _trial(ctx, head, picks) if trial else {}
    out = []
    for c in picks:
        later = changes[: changes.index(c)]
        overlaps = [
            o.ref
            for o in later
            if o not in picks and o.sha in files and files[o.sha] & files[c.sha]
        ]
        mine = [k for k in c.tickets if k in wanted]
        out.append(RevertPick(c, mine, overlaps, conflicts.get(c.sha, [])))
    return out


def _trial(ctx: Context, head: str, picks: list[Any]) -> dict[str, list[str]]:
    """Revert ``picks`` on ``head`` in a temporary work tree, keeping nothing; the files
    each revert that does not apply conflicts in."""
    from shipyard.adapters.git.reverts import Revertee, revert_commits

    who = (ctx.actor.split("@")[0] or ctx.actor, ctx.actor)
    revertees = [Revertee(c.sha, c.kind == "merge") for c in picks]
    return revert_commits(ctx.git, head, revertees, who=who).conflicts


# -- as JSON (the CLI's --json and the API) ------------------------------------------------------


def change_dict(c: Any, statuses: dict[str, str]) -> dict[str, Any]:
    return {
        "sha": c.sha,
        "ref": c.ref,
        "pr": c.pr,
        "title": c.title,
        "author": c.author,
        "tickets": {k: statuses.get(k, "unknown") for k in c.tickets},
    }


def as_dict(p: FixPlan) -> dict[str, Any]:
    """The plan as plain JSON values."""
    t = p.statuses
    e = p.earlier
    return {
        "environment": p.environment,
        "upstream": p.upstream,
        "running": {"commit": p.running, "ref": p.running_ref} if p.running else None,
        "head": {"commit": p.head, "ref": p.head_ref},
        "changes": len(p.changes),
        "unverified": {k: p.tickets[k] for k in p.unverified},
        "earlier": None
        if e is None
        else {
            "commit": e.commit,
            "release_tag": e.release_tag,
            "brings": [change_dict(c, t) for c in e.brings],
            "leaves": [change_dict(c, t) for c in e.leaves],
            "left_tickets": e.left_tickets,
        },
        "reverts": [
            {
                "change": change_dict(r.change, t),
                "unverified": r.unverified,
                "overlaps": r.overlaps,
                "conflicts": r.conflicts,
            }
            for r in p.reverts
        ],
        "reverts_apply": p.reverts_apply,
    }
