"""Webhooks in: who may send them, which app they are for, what a delivery changes,
and the ingest they trigger.

Every delivery is recorded in ``webhook_deliveries`` with its outcome, once per app:

    accepted   it changed something (or was a ping); an audit record says what
    ignored    another repository or branch, or nothing to do (answered 202)
    duplicate  a redelivery of an id already accepted or ignored; nothing done
    rejected   a bad signature or token, or a body that cannot be read

The modules, in the order a delivery meets them:

    routing     which served app(s) a delivery is for; the one entry per endpoint
    auth        HMAC signatures and bearer tokens, per app
    deliveries  settings, outcomes, decoding; recording and idempotency
    github      one GitHub event for one app
    build       the generic "build finished" report for one app
    checks      external checks on a commit's build, and their verdict
    ingest      the background ingest a push starts; one per app at a time

A push to main (or a pull request merged into it) runs ingest at once, in a
background thread: ``builds.sync``, or, when ``required_checks`` names checks an
external CI reports, ``record_new_builds`` and :func:`advance`. One ingest per
app runs at a time in this process; one requested meanwhile runs after it.

External checks: check results from GitHub (or ``POST /webhooks/build``) are
Check rows on the commit's build. With ``required_checks`` set, a pending build
passes when every required check has reported success and its artifact has been
produced (by ``build_run.run_build``, which also runs any local ``[checks]``); it
fails as soon as a required check fails.

This package re-exports nothing: import from the module that holds the name.
"""
