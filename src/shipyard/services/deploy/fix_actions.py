"""Acting on a stage-fix plan: release the earlier verified commit, or make the reverts.

``release_earlier`` uses the release tag already on that commit, else cuts a
pre-release on it (the release cut service, audited); the deploy itself stays the
ordinary gated ``deploy``. ``revert_unverified`` makes the reverts on a branch
``revert/plan-<date>`` off the upstream's commit (a PR with a forge) through
``services.reverts.revert_changes``, so each reverted change owes its re-revert like
``shipyard revert``; it never touches main or the user's checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from shipyard.errors import NotFound, ShipyardError
from shipyard.services.context import Context
from shipyard.services.deploy.fixes import FixPlan, change_dict, plan_fixes
from shipyard.services.reverts import Prepared, revert_changes

MAX_SAME_DAY = 50


@dataclass
class EarlierRelease:
    plan: FixPlan
    tag: str
    commit: str
    cut: bool  # False: the commit had a release tag already

    @property
    def deploy_command(self) -> str:
        return f"shipyard deploy {self.plan.environment} {self.tag}"


def no_earlier(p: FixPlan) -> str:
    since = f"{p.environment}'s {p.running[:7]}" if p.running else f"what {p.environment} runs"
    return (
        f"no commit that ran on {p.upstream} since {since} is fully verified "
        f"(unverified: {', '.join(p.unverified)})"
    )


def release_earlier(ctx: Context, environment: str, *, on: date | None = None) -> EarlierRelease:
    """The release of way (a): the tag on the earlier commit, cut now when it has none."""
    from shipyard.services.releases import cut_prerelease

    p = plan_fixes(ctx, environment, trial=False)
    e = p.earlier
    if e is None:
        raise NotFound(no_earlier(p))
    if e.release_tag is not None:
        return EarlierRelease(p, e.release_tag, e.commit, cut=False)
    result = cut_prerelease(ctx, on=on, commit=e.commit)
    if result.release is None:
        raise ShipyardError(result.message)
    return EarlierRelease(p, result.release.tag, e.commit, cut=True)


def revert_unverified(ctx: Context, environment: str) -> tuple[FixPlan, Prepared]:
    """Way (b): revert the changes naming unverified tickets on a new branch; a re-revert
    is owed for each. A revert that conflicts refuses the whole thing, leaving nothing."""
    p = plan_fixes(ctx, environment, trial=False)
    if not p.reverts:
        raise ShipyardError(
            f"nothing to revert: the unverified {', '.join(p.unverified)} are reverted already"
        )
    why = f"{environment}: take out unverified {', '.join(p.unverified)}"
    changes = [r.change for r in p.reverts]
    return p, revert_changes(ctx, changes, why, base=p.head, branch=_free_branch(ctx, "plan"))


def _free_branch(ctx: Context, name: str) -> str:
    """``revert/<name>-<date>``, or the first of ``-2``, ``-3``... not taken that day."""
    from shipyard.services.releases import today

    stem = f"revert/{name}-{today(ctx).isoformat()}"
    for n in range(1, MAX_SAME_DAY + 1):
        branch = stem if n == 1 else f"{stem}-{n}"
        if ctx.git.rev_parse(f"refs/heads/{branch}") is None:
            return branch
    raise ShipyardError(f"{MAX_SAME_DAY} branches {stem}-N exist already: delete some first")


# -- as JSON (the CLI's --json and the API) ------------------------------------------------------


def release_dict(r: EarlierRelease) -> dict[str, Any]:
    e = r.plan.earlier
    assert e is not None
    statuses = r.plan.statuses
    return {
        "environment": r.plan.environment,
        "tag": r.tag,
        "commit": r.commit,
        "cut": r.cut,
        "leaves": [change_dict(c, statuses) for c in e.leaves],
        "deploy_command": r.deploy_command,
        "deployment": None,
    }


def revert_dict(p: FixPlan, b: Prepared) -> dict[str, Any]:
    return {
        "environment": p.environment,
        "branch": b.branch,
        "head": b.head,
        "start": b.start,
        "reverted": [change_dict(c, p.statuses) for c in b.changes],
        "commits": b.commits,
        "pr": b.pr,
        "url": b.url,
        "owed": [o.sha for o in b.owed],
    }
