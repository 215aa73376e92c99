"""Putting a build on an environment through that environment's runtime, and checking it.

Which runtime (``local``, ``gitops``, a third party's) and which verifier the
environment names is the composition root's business; this module only speaks their
Protocols (``EnvironmentRuntime``, ``Verifier``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from shipyard.adapters.runtime.environment import Target
from shipyard.errors import DeployFailed
from shipyard.services.context import Context
from shipyard.services.envconfig import record_started, runtime_env
from shipyard.store.models import Build, Deployment

if TYPE_CHECKING:
    from shipyard.services.deploy.watch import Verification


def target_of(ctx: Context, build: Build, d: Deployment | None, **fields: object) -> Target:
    """The ``Target`` of ``build``, as deployment ``d`` (if any) names it."""
    digest = build.artifact_digest

    def artifact_dir() -> Path:
        assert digest is not None
        return ctx.artifacts.path(ctx.app_name, digest)

    values: dict[str, object] = {
        "commit": build.sha,
        "ref": d.ref if d else build.short_sha,
        "tag": d.tag if d else build.short_sha,
        "digest": (d.digest if d and d.digest else digest),
        "actor": ctx.actor,
        "artifact_dir": artifact_dir,
        "deployment": d.id if d else None,
        "kind": d.kind if d else "deploy",
    }
    values.update(fields)
    return Target(**values)  # type: ignore[arg-type]


def roll_out(
    ctx: Context, environment: str, target: Target, *, verifying: Callable[[], object]
) -> Verification | None:
    """Deploy ``target`` with the environment's runtime, call ``verifying`` (the state
    moves on), ask the environment's verifier, then watch it for ``verify_for`` with its
    checks: their verdict, or None when it has none."""
    cfg = ctx.settings.environment(environment)
    runtime = ctx.runtime_for(environment)
    target = with_config(ctx, environment, target)
    began = time.time()  # the Prometheus checks' baseline: before the switch
    url = runtime.deploy(target, timeout=cfg.health_timeout, on_progress=ctx.reporter.step)
    record_started(ctx, environment, target.config_version or 0)
    verifying()
    # None: the runtime confirmed the rollout itself (Argo CD) or nothing can be asked
    problem = None if url is None else ctx.verifier_for(environment).verify(url, target.commit)
    if problem is not None:
        restore(ctx, environment)
        raise DeployFailed(f"{environment}: {problem} after the switch")
    if not cfg.checks or cfg.verify_for <= 0:
        return None  # no checks to watch (nor their probes to load)
    from shipyard.services.deploy.watch import watch

    return watch(ctx, environment, url, began=began, commit=target.commit)


def restore(ctx: Context, environment: str) -> None:
    """Put the environment back on the version its current deployment records."""
    from shipyard.store.queries import current_of

    cfg = ctx.settings.environment(environment)
    with ctx.store.read() as s:
        current = current_of(s, ctx.environment_row(s, environment))
        target = _recorded(ctx, s, current)
    if target is not None:
        target = with_config(ctx, environment, target)
    ctx.runtime_for(environment).restore(target, timeout=cfg.health_timeout)
    if target is not None:
        record_started(ctx, environment, target.config_version or 0)


def with_config(ctx: Context, environment: str, target: Target) -> Target:
    """``target`` with the environment's active variables (every secret opened, or a
    SecretsError before anything starts)."""
    version, env = runtime_env(ctx, environment)
    return replace(target, env=env, config_version=version)


def _recorded(ctx: Context, s: Session, current: Deployment | None) -> Target | None:
    if current is None or current.build_id is None:
        return None
    build = s.get(Build, current.build_id)
    if build is None or build.artifact_digest is None:
        return None
    return target_of(ctx, build, current)
