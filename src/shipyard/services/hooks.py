"""Hooks: how a service tells the others that something happened, without importing them.

A deployment that changes what an environment runs (a deploy or rollback that
succeeds, a recovered one, ``adopt``) calls :func:`deployment_changed`; the
environments view (``services.status``) subscribes, to forget cached health and
store what now waits upstream. The lower module calls, the higher one
subscribes, so imports keep pointing down.

Subscribing is idempotent. The status view subscribes when it is loaded, and the
composition roots (the CLI's context, the server's ``create_app``) load it, so a
deployment finished by any command or request is seen. A hook must never raise.

Example::

    hooks.on_deployment_changed(lambda ctx: print(ctx.app_name, "moved"))
    hooks.deployment_changed(ctx)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.services.context import Context

log = logging.getLogger(__name__)

DeploymentHook = Callable[["Context"], None]

_deployment_changed: list[DeploymentHook] = []


def on_deployment_changed(hook: DeploymentHook) -> DeploymentHook:
    """Call ``hook(ctx)`` whenever an environment's current deployment changes."""
    if hook not in _deployment_changed:
        _deployment_changed.append(hook)
    return hook


def deployment_changed(ctx: Context) -> None:
    """Tell every subscriber that ``ctx``'s app changed what an environment runs. Never raises."""
    for hook in tuple(_deployment_changed):
        try:
            hook(ctx)
        except Exception:  # a hook must not fail the deployment that called it
            log.exception("deployment hook %r failed for %s", hook, ctx.app_name)
