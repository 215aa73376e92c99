"""Files and folders only their owner can read: the state directory, the database,
the outbox spool, the runtime's state and the artifacts.

Modes are set explicitly (``chmod`` after creating), so they do not depend on
the umask of whoever starts Shipyard.

    private_dir(state_dir / "outbox")        # 0700, and any folder it had to make
    private_file(state_dir / "shipyard.db")  # 0600, created empty when missing
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Make ``path`` (and every missing parent) a folder only its owner may enter."""
    missing = []
    at = path
    while not at.exists():
        missing.append(at)
        if at.parent == at:
            break
        at = at.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            os.mkdir(d, DIR_MODE)
        os.chmod(d, DIR_MODE)
    with contextlib.suppress(PermissionError):  # someone else's folder: leave it be
        os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if it is missing; either way only its owner may read it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def open_private(path: Path, flags: int) -> int:
    """``os.open`` for a new file of mode 0600 whatever the umask; the descriptor."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd
