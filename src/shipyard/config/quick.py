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
from typing import TYPE_CHECKING, Any, NamedTuple

from shipyard.errors import ConfigError

if TYPE_CHECKING:
    from shipyard.config.app import AppConfig, ReleasesConfig, StateConfig
    from shipyard.config.notes import NotesConfig
    from shipyard.config.schema import Invalid

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


def peek_repo(path: Path, data: Mapping[str, Any]) -> Path | None:
    """The app's repository as the file at ``path`` names it, before any check (to start
    git early); None if ``[app] repo`` is not a plain string."""
    app = data.get("app")
    repo = app.get("repo", ".") if isinstance(app, dict) else None
    return repo_path(path.parent.resolve(), repo) if isinstance(repo, str) else None


def repo_path(root: Path, repo: str) -> Path:
    """Where ``[app] repo`` points, for a file in the directory ``root``."""
    return (root / repo).resolve()


def check_sections(data: Mapping[str, Any]) -> None:
    """Every top-level key a known section, and the required ones there."""
    from shipyard.config.schema import Invalid

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
        return repo_path(self.root, self.app.repo)

    @property
    def database_url(self) -> str:
        from shipyard.config.app import database_url

        return database_url(self.root, self.state)


def load_notes(path: Path | None = None, *, cwd: Path | None = None) -> NotesSettings | None:
    """The sections the notes need, found and checked as ``load`` does; None when the
    file names a ``[forge]`` (describing PRs needs the whole ``Settings``)."""
    return notes_settings(*read_config(path, cwd=cwd))


def notes_settings(path: Path, data: Mapping[str, Any]) -> NotesSettings | None:
    """:func:`load_notes` for the file at ``path`` as :func:`read_config` read it."""
    from shipyard.config.app import ReleasesConfig, StateConfig, _app, _releases, _state
    from shipyard.config.notes import NotesConfig, parse_notes
    from shipyard.config.schema import Invalid

    parsers: dict[str, Callable[[Any], Any]] = {
        "app": _app,
        "releases": _releases,
        "notes": parse_notes,
        "state": _state,
    }
    try:
        check_sections(data)
        if "forge" in data:
            return None
        # In the file's order, as ``load`` checks them: the first bad one is reported.
        found = {key: parsers[key](value) for key, value in data.items() if key in parsers}
    except Invalid as exc:
        raise config_error(exc, path.name) from None
    return NotesSettings(
        app=found["app"],
        releases=found["releases"] if "releases" in found else ReleasesConfig(),
        notes=found["notes"] if "notes" in found else NotesConfig(),
        state=found["state"] if "state" in found else StateConfig(),
        root=path.parent.resolve(),
    )
