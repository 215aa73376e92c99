"""Where a build's checks run: a folder per build slot, kept between builds.

``[checks] parallel`` builds may run at once, so there are as many slots, each a folder
``<state>/work/checks-N`` and a lock file beside it (``flock``, held for the whole build,
released by the system if the process dies). A build takes the first free slot and
brings its folder to the commit's files (``adapters.git.checkout.refresh``: only what
differs is written). When every slot is taken (another process builds too) or a slot's
folder cannot be used, the build writes a fresh copy in its own temporary folder, as
every build did before slots.

    with slot(ctx) as folder:   # None: no slot free, use a fresh folder
        ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shipyard.private import private_dir
from shipyard.services.context import Context

try:
    import fcntl
except ImportError:  # not POSIX: no slots, a fresh folder for every build
    fcntl = None  # type: ignore[assignment]


@contextmanager
def slot(ctx: Context) -> Iterator[Path | None]:
    """A free slot's folder, locked until the block ends; None when none is free."""
    if fcntl is None:
        yield None
        return
    work = private_dir(ctx.settings.state_dir / "work")
    for n in range(max(1, ctx.settings.check_parallel)):
        fd = os.open(work / f"checks-{n}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another build has it
            os.close(fd)
            continue
        try:
            yield work / f"checks-{n}"
        finally:
            os.close(fd)  # the lock goes with it
        return
    yield None
