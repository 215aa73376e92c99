"""Scrubbing secret values out of text and data before anyone sees them.

One ``Scrubber`` is built from every secret value the settings name (webhook
secrets, the build token, the database password, notification URLs); the
boundaries apply it: stored check output, log lines, API answers and pages,
notifications and the audit log. A value is also found in the forms it takes
once written as JSON, HTML or a URL.

    >>> s = Scrubber(["hunter2-abc"])
    >>> s.text("token=hunter2-abc")
    'token=[secret]'
    >>> s.data({"a": ["x hunter2-abc"]})
    {'a': ['x [secret]']}
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

REDACTED = "[secret]"
# Shorter values would scrub ordinary words: a secret is never this short.
MIN_LENGTH = 6


def _forms(value: str) -> set[str]:
    """``value`` as written plainly, in JSON, in HTML and percent-encoded."""
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
        html.escape(value, quote=False),
        quote(value, safe=""),
    }


class Scrubber:
    """Replaces every secret value (in any of its forms) with ``[secret]``."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._forms: frozenset[str] = frozenset()
        self._text: re.Pattern[str] | None = None
        self._bytes: re.Pattern[bytes] | None = None
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        """Scrub ``values`` too from now on (a secret changed while the process runs)."""
        forms = set(self._forms)
        for value in values:
            if len(value) >= MIN_LENGTH:
                forms |= _forms(value)
        if forms == self._forms:
            return
        # Longest first, so a value that contains another is replaced whole.
        ordered = sorted(forms, key=len, reverse=True)
        text = re.compile("|".join(map(re.escape, ordered)))
        raw = re.compile(b"|".join(re.escape(f.encode("utf-8", "replace")) for f in ordered))
        # Each pattern is swapped in whole: a thread scrubbing meanwhile uses the old or the new.
        self._bytes, self._text, self._forms = raw, text, frozenset(forms)

    def __bool__(self) -> bool:
        return self._text is not None

    def text(self, value: str) -> str:
        return self._text.sub(REDACTED, value) if self._text is not None else value

    def bytes(self, value: bytes) -> bytes:
        return self._bytes.sub(REDACTED.encode(), value) if self._bytes is not None else value

    def data(self, value: Any) -> Any:
        """``value`` with every string in it scrubbed (dicts, lists and tuples are copied)."""
        if self._text is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.data(v) for v in value)
        return value
