"""The built-in runtimes, by the name the config gives them.

Kept apart from the package's Protocol so that an implementation importing the
Protocol never imports its own factory back.
"""

from __future__ import annotations

from pathlib import Path

from shipyard.adapters.runtime import Runtime
from shipyard.errors import ConfigError


def create_runtime(kind: str, *, state_dir: Path) -> Runtime:
    """The built-in runtime called ``kind`` in the config (only ``local`` so far)."""
    if kind == "local":
        from shipyard.adapters.runtime.local import LocalRuntime

        return LocalRuntime(state_dir)
    raise ConfigError(f"unknown runtime {kind!r}; known: local")
