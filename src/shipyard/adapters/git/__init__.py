"""Git, driven through the ``git`` binary: history, tags and trees of a repository."""

from shipyard.adapters.git.repo import CommitInfo, GitRepo

__all__ = ["CommitInfo", "GitRepo"]
