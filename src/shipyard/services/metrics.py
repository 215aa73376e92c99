"""``/metrics`` in Prometheus' text format, computed from the database at each scrape.

Counting from the database (not from counters in one process) keeps the figures
right when several servers share one database, and across restarts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
        lines.append(f"{name}{suffix}{_labels(**labels)} {_value(value)}")
    return lines


def _value(value: float) -> str:
    """A sample's value in full (``1234567``, ``1234.567``): ``:g`` would keep 6 digits."""
    if isinstance(value, int) or (math.isfinite(value) and value.is_integer()):
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    return repr(value) if math.isfinite(value) else ("+Inf" if value > 0 else "-Inf")


Sample = tuple[str, dict[str, str], float]


def render(store: Store) -> str:
    out: list[str] = []
    with store.read() as s:
        names = _Names(s)
        out += _deployments(s, names)
        out += _durations(s, names)
        out += _builds(s, names)
        out += _deliveries(s)
        out += _scheduler(s, names)
    out += _unauthenticated()
    return "\n".join(out) + "\n"


class _Names:
    """The app and environment labels of ids."""

    def __init__(self, s: Session) -> None:
        self.envs = {e.id: (e.name, e.app_id) for e in s.execute(select(Environment)).scalars()}
        self.apps: dict[int, str] = {i: n for i, n in s.execute(select(App.id, App.name)).all()}

    def app(self, app_id: int) -> str:
        return self.apps.get(app_id, "?")

    def where(self, env_id: int) -> dict[str, str]:
        name, app_id = self.envs.get(env_id, ("?", 0))
        return {"app": self.app(app_id), "environment": name}


def _deployments(s: Session, names: _Names) -> list[str]:
    rows = s.execute(
        select(Deployment.environment_id, Deployment.state, func.count()).group_by(
            Deployment.environment_id, Deployment.state
        )
    ).all()
    where = names.where
    finished = [("", {**where(e), "result": st}, n) for e, st, n in rows if st in TERMINAL_STATES]
    queued = [("", where(e), n) for e, st, n in rows if st == "queued"]
    held = [("", where(e), n) for e, st, n in rows if st not in TERMINAL_STATES and st != "queued"]
    return [
        *_family(
            "shipyard_deployments_total", "counter", "Finished deployments by result.", finished
        ),
        *_family(
            "shipyard_deployment_queue_length",
            "gauge",
            "Deployments waiting for their environment.",
            queued,
        ),
        *_family(
            "shipyard_deployments_in_flight",
            "gauge",
            "Deployments holding their environment.",
            held,
        ),
    ]


def _durations(s: Session, names: _Names) -> list[str]:
    done = s.execute(
        select(Deployment.environment_id, Deployment.created_at, Deployment.finished_at).where(
            Deployment.state == "succeeded", Deployment.finished_at.is_not(None)
        )
    ).all()
    hist: dict[int, list[float]] = {}
    for e, start, end in done:
        if end is not None:
            hist.setdefault(e, []).append(max((end - start).total_seconds(), 0.0))
    samples: list[Sample] = []
    for e, values in hist.items():
        where = names.where(e)
        for b in BUCKETS:
            samples.append(("_bucket", {**where, "le": f"{b:g}"}, sum(1 for v in values if v <= b)))
        samples.append(("_bucket", {**where, "le": "+Inf"}, len(values)))
        samples.append(("_sum", where, round(sum(values), 3)))
        samples.append(("_count", where, len(values)))
    return _family(
        "shipyard_deployment_duration_seconds",
        "histogram",
        "Time from request to success of deployments.",
        samples,
    )


def _builds(s: Session, names: _Names) -> list[str]:
    builds = s.execute(
        select(Build.app_id, Build.status, func.count()).group_by(Build.app_id, Build.status)
    )
    return _family(
        "shipyard_builds_total",
        "counter",
        "Builds of main by status.",
        [("", {"app": names.app(a), "status": st}, n) for a, st, n in builds],
    )


def _deliveries(s: Session) -> list[str]:
    hooks = s.execute(
        select(
            WebhookDelivery.app, WebhookDelivery.source, WebhookDelivery.outcome, func.count()
        ).group_by(WebhookDelivery.app, WebhookDelivery.source, WebhookDelivery.outcome)
    )
    return _family(
        "shipyard_webhook_deliveries_total",
        "counter",
        "Webhook deliveries by app (when they are for one) and result.",
        [
            ("", {**({"app": a} if a else {}), "source": src, "result": oc}, n)
            for a, src, oc, n in hooks
        ],
    )


def _scheduler(s: Session, names: _Names) -> list[str]:
    runs = s.execute(
        select(ScheduledRun.app_id, ScheduledRun.job, ScheduledRun.outcome, func.count()).group_by(
            ScheduledRun.app_id, ScheduledRun.job, ScheduledRun.outcome
        )
    )
    return _family(
        "shipyard_scheduler_runs_total",
        "counter",
        "Scheduled runs by job and outcome.",
        [("", {"app": names.app(a), "job": j, "result": oc}, n) for a, j, oc, n in runs],
    )


def _unauthenticated() -> list[str]:
    from shipyard.services.webhooks.deliveries import UNAUTHENTICATED

    return _family(
        "shipyard_webhook_unauthenticated_total",
        "counter",
        "Webhook deliveries refused before anyone authenticated them, by this process.",
        [
            ("", {"source": src, "reason": kind}, n)
            for (src, kind), n in sorted(UNAUTHENTICATED.counts().items())
        ],
    )
