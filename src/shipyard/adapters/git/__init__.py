from __future__ import annotations

from shipyard.adapters.git.repo import GitRepo

__all__ = ["GitRepo"]
