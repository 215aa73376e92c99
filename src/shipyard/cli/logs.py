"""``shipyard logs``: an environment's instance output (tail, or follow until Ctrl-C),
locally or from a server; a build's check log stays ``shipyard logs SHA CHECK``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from shipyard.errors import NotFound

IDLE = 0.5  # seconds between reads while following a quiet log
LOOK_AGAIN = 4  # quiet reads before looking whether another instance serves now

Tail = Callable[[], Any]  # -> InstanceLog-shaped object
Read = Callable[[str, int], tuple[str, int]]


def show(tail: Tail, read: Read, *, environment: str, follow: bool, pinned: bool) -> None:
    """Print the tail; with ``follow``, print what is added until Ctrl-C (then exit 0).

    ``pinned`` (a --commit was given) keeps following that instance; otherwise a new
    instance that starts serving is followed from its first line."""
    log = tail()
    _header(environment, log)
    _write("".join(line + "\n" for line in log.lines))
    if not follow:
        return
    try:
        _follow(tail, read, environment, log, pinned)
    except KeyboardInterrupt:
        sys.stderr.write("\n")


def _follow(tail: Tail, read: Read, environment: str, log: Any, pinned: bool) -> None:
    name, end, quiet = log.name, log.end, 0
    while True:
        try:
            text, end = read(name, end)
        except NotFound:
            if pinned:
                raise
            text, quiet = "", LOOK_AGAIN  # rotated away: look for the serving one at once
        if text:
            _write(text)
            quiet = 0
            continue
        quiet += 1
        if not pinned and quiet >= LOOK_AGAIN:
            quiet = 0
            now = tail()
            if now.name != name:
                _header(environment, now, switched=True)
                name, end = now.name, 0
                continue
        time.sleep(IDLE)


def _header(environment: str, log: Any, *, switched: bool = False) -> None:
    started = log.started_at.strftime("%Y-%m-%d %H:%M:%S UTC") if log.started_at else "?"
    what = "serving" if log.serving else "not serving"
    verb = "now following the" if switched else "the"
    sys.stderr.write(
        f"--- {environment}: {verb} instance of {log.commit[:12]} started {started} ({what}) ---\n"
    )
    sys.stderr.flush()


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
