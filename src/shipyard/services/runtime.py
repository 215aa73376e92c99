"""Starting and stopping every environment at its recorded version."""

from __future__ import annotations

from sqlalchemy import select

from shipyard.errors import ShipyardError
from shipyard.services.context import Context
from shipyard.services.deploy import _spec, current_of, recover
from shipyard.store.models import Build


def bring_up(ctx: Context) -> list[str]:
    recover(ctx)
    lines = []
    for name, cfg in ctx.settings.environments.items():
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
            info = ctx.runtime.up(_spec(ctx, name, build), timeout=cfg.health_timeout)
            lines.append(f"{name}: {d.ref} ({info.commit[:7]}) on http://127.0.0.1:{cfg.port}/")
        except ShipyardError as exc:
            lines.append(f"{name}: could not start {d.ref}: {exc.message}")
    return lines


def bring_down(ctx: Context) -> list[str]:
    lines = []
    for name in ctx.settings.environments:
        ctx.runtime.down(ctx.app_name, name)
        lines.append(f"{name}: stopped")
    return lines
