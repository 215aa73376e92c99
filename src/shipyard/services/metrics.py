"""``/metrics`` in Prometheus' text format, computed from the database at each scrape.

Counting from the database (not from counters in one process) keeps the figures
right when several servers share one database, and across restarts.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from shipyard.core.states import TERMINAL_STATES
from shipyard.store.db import Store
from shipyard.store.models import App, Build, Deployment, Environment, ScheduledRun, WebhookDelivery

BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _family(
    name: str, kind: str, help_: str, samples: Iterable[tuple[str, dict[str, str], float]]
) -> list[str]:
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    for suffix, labels, value in samples:
        lines.append(f"{name}{suffix}{_labels(**labels)} {value:g}")
    return lines


def render(store: Store) -> str:
    out: list[str] = []
    with store.read() as s:
        env_name = {e.id: (e.name, e.app_id) for e in s.execute(select(Environment)).scalars()}
        app_name = dict(s.execute(select(App.id, App.name)).all())

        def where(env_id: int) -> dict[str, str]:
            name, app_id = env_name.get(env_id, ("?", 0))
            return {"app": app_name.get(app_id, "?"), "environment": name}

        rows = s.execute(
            select(Deployment.environment_id, Deployment.state, func.count()).group_by(
                Deployment.environment_id, Deployment.state
            )
        ).all()
        out += _family(
            "shipyard_deployments_total",
            "counter",
            "Finished deployments by result.",
            [("", {**where(e), "result": st}, n) for e, st, n in rows if st in TERMINAL_STATES],
        )
        out += _family(
            "shipyard_deployment_queue_length",
            "gauge",
            "Deployments waiting for their environment.",
            [("", where(e), n) for e, st, n in rows if st == "queued"],
        )
        out += _family(
            "shipyard_deployments_in_flight",
            "gauge",
            "Deployments holding their environment.",
            [
                ("", where(e), n)
                for e, st, n in rows
                if st not in TERMINAL_STATES and st != "queued"
            ],
        )
        done = s.execute(
            select(Deployment.environment_id, Deployment.created_at, Deployment.finished_at).where(
                Deployment.state == "succeeded", Deployment.finished_at.is_not(None)
            )
        ).all()
        hist: dict[int, list[float]] = {}
        for e, start, end in done:
            if end is not None:
                hist.setdefault(e, []).append(max((end - start).total_seconds(), 0.0))
        samples: list[tuple[str, dict[str, str], float]] = []
        for e, values in hist.items():
            for b in BUCKETS:
                samples.append(
                    ("_bucket", {**where(e), "le": f"{b:g}"}, sum(1 for v in values if v <= b))
                )
            samples.append(("_bucket", {**where(e), "le": "+Inf"}, len(values)))
            samples.append(("_sum", where(e), round(sum(values), 3)))
            samples.append(("_count", where(e), len(values)))
        out += _family(
            "shipyard_deployment_duration_seconds",
            "histogram",
            "Time from request to success of deployments.",
            samples,
        )
        builds = s.execute(
            select(Build.app_id, Build.status, func.count()).group_by(Build.app_id, Build.status)
        )
        out += _family(
            "shipyard_builds_total",
            "counter",
            "Builds of main by status.",
            [("", {"app": app_name.get(a, "?"), "status": st}, n) for a, st, n in builds],
        )
        hooks = s.execute(
            select(
                WebhookDelivery.app, WebhookDelivery.source, WebhookDelivery.outcome, func.count()
            ).group_by(WebhookDelivery.app, WebhookDelivery.source, WebhookDelivery.outcome)
        )
        out += _family(
            "shipyard_webhook_deliveries_total",
            "counter",
            "Webhook deliveries by app (when they are for one) and result.",
            [
                ("", {**({"app": a} if a else {}), "source": src, "result": oc}, n)
                for a, src, oc, n in hooks
            ],
        )
        runs = s.execute(
            select(
                ScheduledRun.app_id, ScheduledRun.job, ScheduledRun.outcome, func.count()
            ).group_by(ScheduledRun.app_id, ScheduledRun.job, ScheduledRun.outcome)
        )
        out += _family(
            "shipyard_scheduler_runs_total",
            "counter",
            "Scheduled runs by job and outcome.",
            [
                ("", {"app": app_name.get(a, "?"), "job": j, "result": oc}, n)
                for a, j, oc, n in runs
            ],
        )
    from shipyard.services.webhooks.deliveries import UNAUTHENTICATED

    out += _family(
        "shipyard_webhook_unauthenticated_total",
        "counter",
        "Webhook deliveries refused before anyone authenticated them, by this process.",
        [
            ("", {"source": src, "reason": kind}, n)
            for (src, kind), n in sorted(UNAUTHENTICATED.counts().items())
        ],
    )
    return "\n".join(out) + "\n"
