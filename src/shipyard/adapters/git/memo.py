"""Answers about commits named by their full SHAs, remembered: they never change."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

# A commit's full name (SHA-1 or SHA-256): what it names never changes.
_FULL_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
SIZE = 256  # answers remembered per repository; the oldest go first

T = TypeVar("T")


def is_full_sha(ref: str | None) -> bool:
    """Whether ``ref`` is a commit's full SHA (not a branch, a tag or a prefix)."""
    return ref is not None and _FULL_SHA.fullmatch(ref) is not None


class Memo:
    """A repository's remembered answers, at most ``SIZE`` of them.

    Only for answers that depend on nothing but commits named by their full SHAs
    (``is_full_sha``), such as whether one is an ancestor of another or the changes
    between two: a deploy that plans twice (before and under its lease) asks git once.
    A failure is not remembered."""

    def __init__(self) -> None:
        self._answers: dict[Any, Any] = {}

    def get(self, key: Any, compute: Callable[[], T], keep: Callable[[T], bool] | None = None) -> T:
        """The answer for ``key``: remembered, else ``compute()``, then remembered unless
        ``keep`` says it is not worth the memory."""
        if key in self._answers:
            return self._answers[key]  # type: ignore[no-any-return]
        value = compute()
        if keep is not None and not keep(value):
            return value
        if len(self._answers) >= SIZE:
            del self._answers[next(iter(self._answers))]
        self._answers[key] = value
        return value
