"""The environment a child process gets: an allow-list, never the server's own settings.

Checks and app instances run code from the repository; whatever Shipyard's own
environment holds (webhook secrets, the build token, the database URL) must not
reach them. Only the names below and those a config names pass through.

    >>> clean_env({"PATH": "/bin", "SHIPYARD_BUILD_TOKEN": "x", "NPM_TOKEN": "n"}, ["NPM_TOKEN"])
    {'PATH': '/bin', 'NPM_TOKEN': 'n'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

BASE_NAMES = ("PATH", "HOME", "LANG", "TMPDIR")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Shipyard's own settings; never passed on, whatever a config names.
OWN_PREFIX = "SHIPYARD_"


def clean_env(source: Mapping[str, str], extra: Iterable[str] = ()) -> dict[str, str]:
    """``source`` reduced to ``BASE_NAMES`` and ``extra`` (those it has), in that order."""
    out: dict[str, str] = {}
    for name in (*BASE_NAMES, *extra):
        if name in source and not name.startswith(OWN_PREFIX):
            out[name] = source[name]
    return out
