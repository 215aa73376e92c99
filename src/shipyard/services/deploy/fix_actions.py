"""Acting on a stage-fix plan: release the earlier verified commit, or make the reverts.

``release_earlier`` uses the release tag already on that commit, else cuts a
pre-release on it (the release cut service, audited); the deploy itself stays the
ordinary gated ``deploy``. ``revert_unverified`` makes the reverts on a branch
``revert/plan-<date>`` for a PR, and never touches main or the user's checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from shipyard.errors import NotFound, ShipyardError
from shipyard.services.context import Context
from shipyard.services.deploy.fixes import FixPlan, change_dict, plan_fixes
from shipyard.services.revert_branches import RevertBranch, make_revert_branch


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


def revert_unverified(ctx: Context, environment: str) -> tuple[FixPlan, RevertBranch]:
    """Way (b): revert the changes naming unverified tickets on a new branch."""
    p = plan_fixes(ctx, environment, trial=False)
    keys = ", ".join(p.unverified)
    branch = make_revert_branch(
        ctx,
        p.head,
        [r.change for r in p.reverts],
        name="plan",
        why=f"{environment}: take out unverified {keys}",
    )
    return p, branch


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


def revert_dict(p: FixPlan, b: RevertBranch) -> dict[str, Any]:
    return {
        "environment": p.environment,
        "branch": b.branch,
        "head": b.head,
        "start": b.start,
        "reverted": [change_dict(c, p.statuses) for c in b.reverted],
        "commits": b.commits,
    }
