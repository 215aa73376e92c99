"""Adapters chosen by name: one registry over the entry points of ``shipyard.adapters``.

An entry point is named ``"<kind>.<name>"`` and points at a factory; the configuration
names the adapter (``[artifacts] kind = "oci"``, ``[environments.prod] runtime =
"gitops"``...) and the composition root calls ``build(kind, name, field, ...)``. The
factory's arguments are fixed per kind, and what it returns satisfies the kind's
Protocol:

    kind       factory(...)                              returns (Protocol)
    artifacts  (settings)                                adapters.artifacts.ArtifactStore
    runtime    (settings, environment)                   adapters.runtime.environment.EnvironmentRuntime
    tracker    (settings, app_id)                        adapters.tracker.Tracker
    notifier   (*, name, path, url, headers, events, timeout)   adapters.notify.Sink
    verifier   (settings, environment)                   adapters.verify.Verifier
    forge      (settings, cache)                         adapters.forge.Forge

A third party ships an adapter as a package that declares, in its ``pyproject.toml``::

    [project.entry-points."shipyard.adapters"]
    "runtime.nomad" = "shipyard_nomad:create"

and users choose it with ``runtime = "nomad"``. An unknown name is a ``ConfigError``
naming the field and listing the names installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shipyard.config.adapters import KINDS, adapter_names, loaded, registered_entry_points
from shipyard.errors import ConfigError

__all__ = ["KINDS", "build", "factory", "names"]


def names(kind: str) -> tuple[str, ...]:
    """The adapter names of ``kind`` installed now."""
    return adapter_names(kind)


def factory(kind: str, name: str, field: str) -> Callable[..., Any]:
    """The factory registered as ``kind.name``; ``field`` is the config path that chose it."""
    done = loaded()
    found = done.get((kind, name))
    if found is None:
        found = done[(kind, name)] = _load(kind, name, field)
    return found


def _load(kind: str, name: str, field: str) -> Callable[..., Any]:
    if kind not in KINDS:
        raise ConfigError(f"{field}: unknown adapter kind {kind!r}; known: {', '.join(KINDS)}")
    found = [ep for ep in registered_entry_points() if ep.name == f"{kind}.{name}"]
    if not found:
        known = ", ".join(adapter_names(kind)) or "none installed"
        raise ConfigError(
            f"shipyard.toml: {field}: unknown {kind} adapter {name!r}; known: {known}",
            field=field,
            known=list(adapter_names(kind)),
        )
    try:
        loaded = found[0].load()
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"shipyard.toml: {field}: the {kind} adapter {name!r} ({found[0].value})"
            f" cannot be loaded: {exc}",
            field=field,
        ) from None
    if not callable(loaded):
        raise ConfigError(f"shipyard.toml: {field}: {found[0].value} is not a factory", field=field)
    return loaded  # type: ignore[no-any-return]


def build(kind: str, name: str, field: str, /, *args: Any, **kwargs: Any) -> Any:
    """Build the adapter ``kind.name`` with the kind's factory arguments."""
    return factory(kind, name, field)(*args, **kwargs)
