"""The adapter names a ``shipyard.toml`` may choose, read from installed entry points.

Every adapter is registered as an entry point of the group ``shipyard.adapters``, named
``"<kind>.<name>"`` (``artifacts.oci``, ``runtime.gitops``...); Shipyard's own are
declared in its ``pyproject.toml`` and a third party's package declares its own the same
way. The configuration only checks that a chosen name is registered (listing the known
ones when it is not); ``shipyard.adapters.registry`` loads and builds them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from shipyard.config.schema import Invalid

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "shipyard.adapters"
KINDS = ("artifacts", "runtime", "tracker", "notifier", "verifier", "forge")
# Shipyard's own adapters, as its ``pyproject.toml`` registers them: a name among these
# is valid without reading every installed distribution's entry points.
BUILT_IN = {
    "artifacts": ("local", "oci"),
    "runtime": ("gitops", "local"),
    "tracker": ("builtin", "jira"),
    "notifier": ("log", "slack", "webhook"),
    "verifier": ("http",),
    "forge": ("git", "github"),
}


@cache
def registered_entry_points() -> tuple[EntryPoint, ...]:
    """The group's entry points, read once per process: reading them scans every
    installed distribution's metadata (~70 ms on a full virtualenv)."""
    from importlib.metadata import entry_points

    return tuple(entry_points(group=GROUP))


@cache
def _registered() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
    for ep in registered_entry_points():
        kind, _, name = ep.name.partition(".")
        if kind in out and name:
            # The first distribution on sys.path wins, as it does for imports.
            out[kind].setdefault(name, ep.value)
    return out


def adapter_names(kind: str) -> tuple[str, ...]:
    """The registered names of ``kind``, sorted: ``adapter_names("runtime")`` is
    ``("gitops", "local")`` with only the built-ins installed."""
    return tuple(sorted(_registered().get(kind, {})))


def check_name(kind: str, name: str, path: tuple[str | int, ...]) -> str:
    """``name`` when an adapter of ``kind`` is registered under it; else ``Invalid`` at
    ``path`` listing the known names."""
    if name in BUILT_IN.get(kind, ()):
        return name
    known = adapter_names(kind)
    if name not in known:
        listed = ", ".join(known) or "none installed"
        raise Invalid(path, f"unknown {kind} adapter {name!r}; known: {listed}")
    return name


@cache
def loaded() -> dict[tuple[str, str], Callable[..., Any]]:
    """The factories ``adapters.registry`` has loaded, by (kind, name): kept with the
    entry points they came from (a view builds an adapter per environment it shows)."""
    return {}


def forget() -> None:
    """Read the entry points again at the next look-up (after installing a package)."""
    registered_entry_points.cache_clear()
    _registered.cache_clear()
    loaded.cache_clear()
