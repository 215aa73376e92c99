"""The outbox on disk: one JSON file per (event, sink), moved between states by renames.

::

    <dir>/<ns>-<event id>.<sink>.json                          waiting (maybe not yet due)
    <dir>/<ns>-<event id>.<sink>.json.claimed-<pid>-<token>    being delivered by process <pid>
    <dir>/dead/<ns>-<event id>.<sink>.json                     given up
    <dir>/.<name>.<random>.tmp                                 being written

A rename within one directory is atomic, so exactly one process wins a claim;
a claim left by a process that no longer runs is renamed back. The pid test
only works on one machine: the directory must not be shared between hosts.
File contents are always replaced whole (write a temporary file, fsync,
rename), so a reader never sees half a record.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shipyard.private import open_private, private_dir

SUFFIX = ".json"
DEAD = "dead"
_CLAIMED = re.compile(r"^(?P<base>.+\.json)\.claimed-(?P<pid>\d+)-[0-9a-f]+$")


@dataclass(frozen=True)
class Record:
    """One delivery of one event to one sink, and how it has gone so far."""

    sink: str
    event: dict[str, Any]
    created_at: float
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> Record:
        raw = json.loads(data)
        return cls(
            sink=str(raw["sink"]),
            event=dict(raw["event"]),
            created_at=float(raw["created_at"]),
            attempts=int(raw.get("attempts", 0)),
            next_attempt_at=float(raw.get("next_attempt_at", 0.0)),
            last_error=raw.get("last_error"),
        )

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, default=str).encode()


def new_name(event_id: str, sink: str) -> str:
    # Nanoseconds first: names sort in publishing order.
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", event_id)[:64]
    return f"{time.time_ns():020d}-{safe_id}.{sink}{SUFFIX}"


def sink_of(name: str) -> str:
    """The sink a file name belongs to: ``…-<id>.<sink>.json[.claimed-…]`` -> ``<sink>``."""
    base = name.split(".claimed-", 1)[0]
    return base[: -len(SUFFIX)].rsplit(".", 1)[-1]


def write(path: Path, record: Record) -> None:
    """Replace ``path`` with ``record``, atomically and durably."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_EXCL), "wb") as fh:
            fh.write(record.to_bytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sync_dir(directory: Path) -> None:
    """Make renames in ``directory`` survive a power cut (POSIX only)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read(path: Path) -> Record | None:
    """The record at ``path``; None if it is gone or unreadable."""
    try:
        return Record.from_bytes(path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def waiting(directory: Path, sink: str) -> list[Path]:
    """Unclaimed files of ``sink``, oldest first."""
    tail = f".{sink}{SUFFIX}"
    return sorted(p for p in _entries(directory) if p.name.endswith(tail))


def claim(path: Path, token: str) -> Path | None:
    """Take ``path`` for this process; None if another took it first."""
    claimed = path.with_name(f"{path.name}.claimed-{os.getpid()}-{token}")
    try:
        os.rename(path, claimed)
    except FileNotFoundError:
        return None
    return claimed


def unclaim(claimed: Path) -> Path:
    """The file name ``claimed`` had before it was claimed."""
    m = _CLAIMED.match(claimed.name)
    assert m is not None, claimed
    return claimed.with_name(m["base"])


def claimed_by(path: Path) -> int | None:
    m = _CLAIMED.match(path.name)
    return int(m["pid"]) if m else None


def put_back(claimed: Path) -> None:
    """Return an untouched claimed file to the queue."""
    os.rename(claimed, unclaim(claimed))


def release(claimed: Path, record: Record) -> None:
    """Write the updated ``record`` and put the file back in the queue."""
    write(claimed, record)
    put_back(claimed)


def bury(claimed: Path, record: Record | None) -> Path:
    """Write the final ``record`` and move the file to ``dead/`` (as it is, if None)."""
    if record is not None:
        write(claimed, record)
    dead = claimed.parent / DEAD
    private_dir(dead)
    target = dead / unclaim(claimed).name
    os.rename(claimed, target)
    return target


def reclaim(directory: Path, sink: str) -> int:
    """Put back the claims on ``sink``'s files held by processes that no longer run."""
    count = 0
    for path in _entries(directory):
        pid = claimed_by(path)
        if pid is None or sink_of(path.name) != sink or _alive(pid):
            continue
        try:
            os.rename(path, unclaim(path))
            count += 1
        except FileNotFoundError:
            pass  # another process reclaimed it first
    return count


def items(directory: Path) -> list[tuple[Path, Record]]:
    """Every readable record in ``directory`` (not ``dead/``), waiting or claimed, oldest first."""
    found = []
    for path in sorted(_entries(directory)):
        if path.name.endswith(SUFFIX) or claimed_by(path) is not None:
            record = read(path)
            if record is not None:
                found.append((path, record))
    return found


def _entries(directory: Path) -> list[Path]:
    try:
        with os.scandir(directory) as it:
            return [Path(e.path) for e in it if not e.name.startswith(".") and e.is_file()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # no harmless liveness probe: never steal a claim
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True
