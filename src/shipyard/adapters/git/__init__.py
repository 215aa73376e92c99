"""The git repository adapter: ``GitRepo`` (in ``repo``), imported on first use so that
``ahead`` can start a log before the code that reads it is loaded."""

from __future__ import annotations

TYPE_CHECKING = False  # not ``typing``'s, for ``ahead``'s sake
if TYPE_CHECKING:
    from typing import Any

    from shipyard.adapters.git.repo import GitRepo

__all__ = ["GitRepo"]


def __getattr__(name: str) -> Any:
    if name != "GitRepo":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from shipyard.adapters.git.repo import GitRepo

    globals()["GitRepo"] = GitRepo
    return GitRepo
