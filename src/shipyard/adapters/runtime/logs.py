"""Reading the local runtime's instance logs: a bounded tail, then what was added since.

Each instance writes stdout and stderr to ``<stamp>-<commit12>-<token6>.log`` in its
environment's log directory (the newest ``KEEP_LOGS`` are kept, ``new_path``); the
file name says which commit ran and when, so the log of a failed deployment's instance
is found by its commit after that instance is gone.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from shipyard.adapters.runtime import InstanceLog
from shipyard.errors import NotFound
from shipyard.private import private_dir

KEEP_LOGS = 20

LOG_NAME = re.compile(r"^(\d{8}T\d{6})-([0-9a-f]{1,40})-([0-9a-f]{1,16})\.log$")
TAIL_BYTES = 256 * 1024  # a tail never reads more than this much of the file
MAX_LINES = 1000
CHUNK = 64 * 1024  # what one read_since returns at most


def instance_logs(log_dir: Path) -> list[Path]:
    """The instance logs of an environment, newest first (the proxy's log left out)."""
    try:
        found = [p for p in log_dir.iterdir() if LOG_NAME.match(p.name)]
    except OSError:
        return []
    return sorted(found, key=lambda p: p.name, reverse=True)  # the name starts with the time


def find(log_dir: Path, commit: str | None, current: str | None) -> Path | None:
    """The log of the newest instance of ``commit`` (a prefix of at least 4 characters),
    else the current instance's log ``current``, else the newest log."""
    logs = instance_logs(log_dir)
    if commit is not None:
        prefix = commit.lower()[:12]
        return next((p for p in logs if _commit(p).startswith(prefix)), None)
    if current is not None and Path(current).is_file():
        return Path(current)
    return logs[0] if logs else None


def tail(path: Path, lines: int, serving: bool) -> InstanceLog:
    """The last ``lines`` lines (at most ``MAX_LINES``) of the log at ``path``."""
    lines = max(1, min(lines, MAX_LINES))
    try:
        with path.open("rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            start = max(0, end - TAIL_BYTES)
            fh.seek(start)
            data = fh.read(end - start)
    except OSError as exc:
        raise NotFound(f"instance log {path.name} cannot be read: {exc.strerror}") from None
    text = data.decode("utf-8", errors="replace").splitlines()
    if start > 0 and text:
        text = text[1:]  # the first line read is cut
    return InstanceLog(
        name=path.name,
        commit=_commit(path),
        started_at=_started(path),
        serving=serving,
        lines=text[-lines:],
        end=end,
    )


def read_since(log_dir: Path, name: str, offset: int) -> tuple[str, int]:
    """What the log ``name`` gained after byte ``offset`` (at most ``CHUNK`` bytes), and the
    offset to ask from next. A log that shrank is read again from its start."""
    if not LOG_NAME.match(name):
        raise NotFound(f"no instance log {name!r}")
    path = log_dir / name
    try:
        with path.open("rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            offset = 0 if offset > end or offset < 0 else offset
            fh.seek(offset)
            data = fh.read(min(CHUNK, end - offset))
    except FileNotFoundError:
        raise NotFound(f"instance log {name} is gone (only the newest logs are kept)") from None
    except OSError as exc:
        raise NotFound(f"instance log {name} cannot be read: {exc.strerror}") from None
    keep = data.rfind(b"\n") + 1 if len(data) == CHUNK else len(data)  # whole lines when cut
    return data[: keep or len(data)].decode("utf-8", errors="replace"), offset + (keep or len(data))


def _commit(path: Path) -> str:
    m = LOG_NAME.match(path.name)
    return m.group(2) if m else ""


def _started(path: Path) -> datetime | None:
    m = LOG_NAME.match(path.name)
    if m is None:
        return None
    return datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)


def new_path(log_dir: Path, commit: str, token: str, in_use: set[str]) -> Path:
    """A fresh log path in ``log_dir``; only the newest logs are kept, and those in use."""
    private_dir(log_dir)
    old = sorted(
        (p for p in log_dir.glob("*.log") if p.name != "proxy.log"),
        key=lambda p: p.stat().st_mtime,
    )
    for path in old[: max(0, len(old) - KEEP_LOGS + 1)]:
        if str(path) not in in_use:
            path.unlink(missing_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return log_dir / f"{stamp}-{commit[:12]}-{token[:6]}.log"
