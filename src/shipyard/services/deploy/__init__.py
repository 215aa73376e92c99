"""Putting a build on an environment: plan, gates, queue, tag, roll out, verify.

``plan`` gathers the facts and evaluates every gate without changing anything.
``execute`` refuses (recording why) or runs the deployment through the state
machine of ``shipyard.core.states``, one transition and its audit record per
transaction. ``recover`` finishes or fails deployments whose command died.

The package, in the order a deployment meets it::

    changes      what runs where, what changed between two commits (shared with the views)
    planning     Plan, resolve_ref, plan, rollback_plan
    execution    execute: refuse or queue, acquire, wait for the artifact, tag, roll out, verify
    transitions  transition (the only writer of a deployment's state), _finish, _fail
    recovery     owner_id, owner_alive, recover
    failures     failed deployments that still matter (views, follow_main)
    follow       follow_main (automatic environments), unpin

Callers import from here, e.g. ``from shipyard.services import deploy as deploys``
then ``deploys.execute(ctx, deploys.plan(ctx, "prod", "2024.09.01"))``.
"""

from __future__ import annotations

from shipyard.services.deploy.changes import (
    _changes_between,
    _tickets_of,
    current_of,
    running_where,
)
from shipyard.services.deploy.execution import execute
from shipyard.services.deploy.failures import failed_where, latest_failures
from shipyard.services.deploy.follow import Followed, follow_main, unpin
from shipyard.services.deploy.planning import Plan, plan, resolve_ref, rollback_plan
from shipyard.services.deploy.recovery import owner_alive, owner_id, recover
from shipyard.services.deploy.transitions import _spec, transition

__all__ = [
    "Followed",
    "Plan",
    "_changes_between",
    "_spec",
    "_tickets_of",
    "current_of",
    "execute",
    "failed_where",
    "follow_main",
    "latest_failures",
    "owner_alive",
    "owner_id",
    "plan",
    "recover",
    "resolve_ref",
    "rollback_plan",
    "running_where",
    "transition",
    "unpin",
]
