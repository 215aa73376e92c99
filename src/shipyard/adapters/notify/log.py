"""The default sink: one JSON object a line, appended to a file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from shipyard.private import private_dir

from .events import Event, NotifyError


class LogSink:
    """Append each event to ``path`` as one JSON line (``event.to_dict()``).

    Example::

        LogSink(Path(".shipyard/events.log")).send(event)
    """

    def __init__(
        self, path: Path | str, *, name: str = "log", events: frozenset[str] = frozenset()
    ) -> None:
        self.path = Path(path)
        self.name = name
        self.events = events

    def __repr__(self) -> str:
        return f"LogSink(name={self.name!r}, path={str(self.path)!r})"

    def send(self, event: Event) -> None:
        line = json.dumps(event.to_dict(), ensure_ascii=False, default=str) + "\n"
        try:
            private_dir(self.path.parent)
            # One write() on an O_APPEND descriptor: lines from several
            # processes do not interleave.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        except OSError as exc:
            message = f"cannot append to {self.path}: {exc.strerror}"
            raise NotifyError(message, retryable=True) from None
