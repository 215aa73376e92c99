"""Starting and stopping every environment at its recorded version, and reading what
its instances print.

Only environments served by local processes are started, stopped or read here; one
that runs elsewhere (``runtime = "gitops"``: Kubernetes, through Argo CD) gets a note
saying so, and ``logs`` says where its logs live."""

from __future__ import annotations

import re

from sqlalchemy import select

from shipyard.adapters.runtime import InstanceLog
from shipyard.errors import NotFound, ShipyardError
from shipyard.services.context import Context
from shipyard.services.deploy.recovery import recover
from shipyard.services.deploy.transitions import _spec
from shipyard.services.envconfig import record_started
from shipyard.store.models import Build
from shipyard.store.queries import current_of

HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")


def bring_up(ctx: Context) -> list[str]:
    recover(ctx)
    lines = []
    for name, cfg in ctx.settings.environments.items():
        elsewhere = ctx.runtime_for(name).elsewhere()
        if elsewhere is not None:
            lines.append(f"{name} is {elsewhere}; nothing to start")
            continue
        with ctx.store.read() as s:
            d = current_of(s, ctx.environment_row(s, name))
            build = (
                s.execute(select(Build).where(Build.id == d.build_id)).scalar_one_or_none()
                if d
                else None
            )
        if d is None or build is None:
            lines.append(f"{name}: nothing deployed yet")
            continue
        try:
            spec = _spec(ctx, name, build)
            info = ctx.runtime.up(spec, timeout=cfg.health_timeout)
            record_started(ctx, name, int(spec.config_version))
            lines.append(f"{name}: {d.ref} ({info.commit[:7]}) on http://127.0.0.1:{cfg.port}/")
        except ShipyardError as exc:
            lines.append(f"{name}: could not start {d.ref}: {exc.message}")
    return lines


def bring_down(ctx: Context) -> list[str]:
    lines = []
    for name in ctx.settings.environments:
        elsewhere = ctx.runtime_for(name).elsewhere()
        if elsewhere is not None:
            lines.append(f"{name} is {elsewhere}; nothing to stop")
            continue
        ctx.runtime.down(ctx.app_name, name)
        lines.append(f"{name}: stopped")
    return lines


def instance_log(
    ctx: Context, environment: str, *, commit: str | None = None, lines: int = 100
) -> InstanceLog:
    """The end of the output of ``environment``'s serving instance, or of its newest
    instance of ``commit`` (the one a failed deployment started, say)."""
    _here(ctx, environment)
    if commit is not None and not HEX.match(commit):
        raise ShipyardError(f"--commit must be 4 to 40 hex digits, not {commit[:50]!r}")
    found = ctx.runtime.log(ctx.app_name, environment, commit=commit, lines=lines)
    if found is None:
        raise NotFound(
            f"no instance log of {commit[:12]} on {environment}"
            if commit
            else f"{environment} has no instance log yet: nothing was deployed there"
        )
    return found


def read_instance_log(ctx: Context, environment: str, name: str, offset: int) -> tuple[str, int]:
    """What the instance log ``name`` of ``environment`` gained after byte ``offset``."""
    _here(ctx, environment)
    return ctx.runtime.read_log(ctx.app_name, environment, name, offset)


def _here(ctx: Context, environment: str) -> None:
    """Refuse to read instance logs of an environment whose instances run elsewhere."""
    ctx.settings.environment(environment)  # NotFound names the known ones
    elsewhere = ctx.runtime_for(environment).elsewhere()
    if elsewhere is not None:
        raise NotFound(
            f"{environment} is {elsewhere}: its instances log in the cluster, not here "
            "(kubectl logs, or the application in Argo CD)"
        )
