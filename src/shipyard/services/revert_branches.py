"""Making revert commits on a branch of their own, audited; the user's checkout is untouched.

:func:`trial_reverts` says which reverts would conflict without keeping anything;
:func:`make_revert_branch` makes them on ``revert/<name>-<date>`` (``-2``, ``-3``... when
the day has one) and records it in the audit log. Either reverts newest first, merge
commits against their first parent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from shipyard.adapters.git.reverts import Revertee, RevertOutcome, revert_changes
from shipyard.errors import GitError, Refused, ShipyardError
from shipyard.services.context import Context
from shipyard.store import audit

MAX_SAME_DAY = 50


@dataclass
class RevertBranch:
    branch: str
    head: str
    start: str
    commits: list[str]
    reverted: list[Any]  # the changes, newest first


def _who(ctx: Context) -> tuple[str, str]:
    return ctx.actor.split("@")[0] or ctx.actor, ctx.actor


def _revertees(changes: Sequence[Any]) -> list[Revertee]:
    return [Revertee(c.sha, c.kind == "merge") for c in changes]


def trial_reverts(ctx: Context, start: str, changes: Sequence[Any]) -> RevertOutcome:
    """Revert ``changes`` on ``start`` in a temporary work tree and keep no branch."""
    return revert_changes(ctx.git, start, _revertees(changes), who=_who(ctx))


def _free_branch(ctx: Context, name: str) -> str:
    from shipyard.services.releases import today

    stem = f"revert/{name}-{today(ctx).isoformat()}"
    for n in range(1, MAX_SAME_DAY + 1):
        branch = stem if n == 1 else f"{stem}-{n}"
        if ctx.git.rev_parse(f"refs/heads/{branch}") is None:
            return branch
    raise ShipyardError(f"{MAX_SAME_DAY} branches {stem}-N exist already: delete some first")


def make_revert_branch(
    ctx: Context, start: str, changes: Sequence[Any], *, name: str, why: str
) -> RevertBranch:
    """Revert ``changes`` (newest first) on top of ``start`` on a new branch.

    A revert that conflicts refuses the whole thing and leaves no branch; ``why`` goes
    to the audit log with what was reverted."""
    if not changes:
        raise ShipyardError("nothing to revert")
    outcome = trial_reverts(ctx, start, changes)
    if outcome.conflicts:
        refs = {c.sha: c.ref for c in changes}
        raise Refused(
            "reverting "
            + "; ".join(
                f"{refs[s]} conflicts in {', '.join(f)}" for s, f in outcome.conflicts.items()
            )
            + ": revert by hand",
            conflicts={refs[s]: f for s, f in outcome.conflicts.items()},
        )
    branch = _free_branch(ctx, name)

    def write(session: Session) -> None:
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="revert.branch",
            subject=branch,
            data={
                "start": start,
                "head": outcome.head,
                "reverted": [c.sha for c in changes],
                "why": why,
            },
        )
        ctx.git.run("branch", branch, outcome.head)  # last: a failure rolls the record back

    try:
        ctx.store.retrying(write)
    except GitError as exc:
        raise ShipyardError(f"could not create branch {branch}: {exc.message}") from None
    except BaseException:
        if ctx.git.rev_parse(f"refs/heads/{branch}") == outcome.head:
            ctx.git.run("branch", "-D", branch)
        raise
    return RevertBranch(branch, outcome.head, start, outcome.commits, list(changes))
