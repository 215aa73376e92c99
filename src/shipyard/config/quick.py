"""Finding and reading ``shipyard.toml``, and the few sections ``shipyard notes`` needs.

``load`` (in ``settings``) validates every section of the file; :func:`load_notes`
reads the same file the same way but validates only ``[app]``, ``[releases]``,
``[notes]`` and ``[state]``, with the same parsers, so a wrong value there is the
same one-line ``ConfigError`` naming the field. It leaves out the modules of every
other section, which cost a quick command more than listing fifteen thousand commits.

    >>> load_notes().app.ticket_prefixes  # doctest: +SKIP
    ['MNTOR']
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from shipyard.config.app import (
    AppConfig,
    ReleasesConfig,
    StateConfig,
    _app,
    _releases,
    _state,
    database_url,
)
from shipyard.config.notes import NotesConfig, parse_notes
from shipyard.config.schema import Invalid
from shipyard.errors import ConfigError

CONFIG_NAME = "shipyard.toml"
SECTION_NAMES = frozenset(
    {
        *("app", "checks", "environments", "releases", "build", "state", "notify"),
        *("schedule", "webhooks", "server", "permissions", "links", "artifacts"),
        *("tracker", "forge", "notes", "secrets", "freezes"),
    }
)
"""The top-level keys a file may have (``settings.ALL_SECTIONS`` parses each)."""


def find_config(start: Path) -> Path | None:
    """The nearest shipyard.toml at or above ``start``."""
    for d in (start, *start.parents):
        candidate = d / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def read_config(
    path: Path | None = None, *, cwd: Path | None = None
) -> tuple[Path, dict[str, Any]]:
    """The file (``path``, ``SHIPYARD_CONFIG``, or the nearest one) and its parsed TOML."""
    if path is None and os.environ.get("SHIPYARD_CONFIG"):
        path = Path(os.environ["SHIPYARD_CONFIG"])
    if path is None:
        start = (cwd or Path.cwd()).resolve()
        path = find_config(start)
        if path is None:
            raise ConfigError(f"no {CONFIG_NAME} in {start} or above; run 'shipyard init' first")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return path, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None


def check_sections(data: Mapping[str, Any]) -> None:
    """Every top-level key a known section, and the required ones there."""
    for key in data:
        if key not in SECTION_NAMES:
            raise Invalid((key,), "is not a known section")
    if "app" not in data:
        raise Invalid(("app",), "is required")
    if "environments" not in data:
        raise Invalid(("environments",), "is required")


def config_error(exc: Invalid, source: str) -> ConfigError:
    """The one-line error a user sees for ``exc``, naming the bad field."""
    where = " -> ".join(str(p) for p in exc.path)
    return ConfigError(f"{source}: {where}: {exc.message}", field=where)


class NotesSettings(NamedTuple):
    """What ``shipyard notes`` reads of the configuration (``Settings`` has the same names)."""

    app: AppConfig
    releases: ReleasesConfig
    notes: NotesConfig
    state: StateConfig
    root: Path

    @property
    def repo_path(self) -> Path:
        return (self.root / self.app.repo).resolve()

    @property
    def database_url(self) -> str:
        return database_url(self.root, self.state)


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "app": _app,
    "releases": _releases,
    "notes": parse_notes,
    "state": _state,
}


def load_notes(path: Path | None = None, *, cwd: Path | None = None) -> NotesSettings | None:
    """The sections the notes need, found and checked as ``load`` does; None when the
    file names a ``[forge]`` (describing PRs needs the whole ``Settings``)."""
    path, data = read_config(path, cwd=cwd)
    try:
        check_sections(data)
        if "forge" in data:
            return None
        # In the file's order, as ``load`` checks them: the first bad one is reported.
        found = {key: _PARSERS[key](value) for key, value in data.items() if key in _PARSERS}
    except Invalid as exc:
        raise config_error(exc, path.name) from None
    return NotesSettings(
        app=found["app"],
        releases=found["releases"] if "releases" in found else ReleasesConfig(),
        notes=found["notes"] if "notes" in found else NotesConfig(),
        state=found["state"] if "state" in found else StateConfig(),
        root=path.parent.resolve(),
    )
