"""Putting a build on an environment: plan, gates, queue, tag, roll out, verify.

``plan`` gathers the facts and evaluates every gate without changing anything.
``execute`` refuses (recording why) or runs the deployment through the state
machine of ``shipyard.core.states``, one transition and its audit record per
transaction. ``recover`` finishes or fails deployments whose command died.

The package, in the order a deployment meets it::

    changes      what changed between two commits (shared with the views; what runs
                 where is a query in ``store.queries``)
    planning     Plan, resolve_ref, plan, rollback_plan
    execution    execute: refuse or queue, acquire, wait for the artifact, tag, roll out, verify
    transitions  transition (the only writer of a deployment's state), _finish, _fail
    recovery     recover (owners live in ``services.owners``)
    failures     failed deployments that still matter (views, follow_main)
    follow       follow_main (automatic environments), unpin

Callers import from the module that holds what they need, e.g.
``from shipyard.services.deploy import execution, planning`` then
``execution.execute(ctx, planning.plan(ctx, "prod", "2024.09.01"))``. This package
re-exports nothing, so importing one step never loads the others.
"""
