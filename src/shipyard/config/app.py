"""The sections of ``shipyard.toml`` about the app itself: ``[app]``, ``[releases]``, ``[state]``.

Kept apart from ``sections`` (environments, checks, the server's sections) because
``shipyard notes`` reads only these (``config.quick``) and should not import the
rest; the whole file's ``Settings`` validate them with the same parsers. Its sections
are named tuples, not dataclasses: the notes then import no ``dataclasses`` (with its
``inspect``), a tenth of their start-up.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

from shipyard.config.adapters import check_name
from shipyard.config.notes import label_name
from shipyard.config.schema import _MISSING, Invalid, _check_type, _fields, _regex, _str_list
from shipyard.core.tickets import BodyRule, KeySources

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")
TICKET_SOURCES = ("title", "branch", "body")
TICKET_BODY = ("fallback", "always")


class AppConfig(NamedTuple):
    """``[app]``: the app's name, its repository and branch, how it runs, what its tickets are."""

    name: str
    run: str
    repo: str = "."
    main: str = "main"
    # A git remote of ``repo`` that main and the release tags are fetched from before
    # they are read, and that release tags are pushed to; None: the repository as it is.
    remote: str | None = None
    health: str = "/__heartbeat__"
    source: str | None = None
    ticket_prefixes: tuple[str, ...] = ()
    # Where keys are read from; "fallback": the body only when the title names none.
    ticket_sources: tuple[str, ...] = TICKET_SOURCES
    ticket_body: str = "fallback"
    since: str | None = None  # where the first sync starts recording tickets
    exclude_authors: tuple[str, ...] = ()
    timezone: str = "UTC"
    tracker: str = "builtin"  # where tickets live (adapters/tracker)

    @property
    def key_sources(self) -> KeySources:
        src = self.ticket_sources
        body: BodyRule = "never"
        if "body" in src:
            body = "always" if self.ticket_body == "always" else "fallback"
        return KeySources("title" in src, "branch" in src, body)


class GroupConfig(NamedTuple):
    """One ``[[releases.groups]]`` entry: a heading of the release notes and what it collects."""

    key: str
    title: str
    match: str | None = None
    reverts: bool = False
    labels: tuple[str, ...] = ()  # PR labels it takes (from the forge)


class ReleasesConfig(NamedTuple):
    """``[releases]``: which environment a pre-release tags, how its notes are grouped."""

    source: str | None = None  # the environment whose commit a pre-release tags
    groups: tuple[GroupConfig, ...] = ()


class StateConfig(NamedTuple):
    """``[state]``: where the database, artifacts and logs live."""

    dir: str = ".shipyard"
    database_url: str | None = None


REMOTE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,99}$")


def _app(data: Any) -> AppConfig:
    p: tuple[str | int, ...] = ("app",)
    f = _fields(
        data,
        p,
        {
            "name": (str, _MISSING),
            "run": (str, _MISSING),
            "repo": (str, "."),
            "main": (str, "main"),
            "remote": (str, None),
            "health": (str, "/__heartbeat__"),
            "source": (str, None),
            "ticket_prefixes": (list, list),
            "ticket_sources": (list, lambda: list(TICKET_SOURCES)),
            "ticket_body": (str, "fallback"),
            "since": (str, None),
            "exclude_authors": (list, list),
            "timezone": (str, "UTC"),
            "tracker": (str, "builtin"),
        },
    )
    if not NAME_RE.match(f["name"]):
        raise Invalid((*p, "name"), "lower-case letters, digits, - and _ only (at most 63)")
    check_name("tracker", f["tracker"], (*p, "tracker"))
    if not f["health"].startswith("/"):
        raise Invalid((*p, "health"), "must be a URL path starting with '/'")
    if f["remote"] is not None and not REMOTE_RE.match(f["remote"]):
        raise Invalid((*p, "remote"), "the name of a git remote, such as 'origin'")
    f["ticket_prefixes"] = tuple(
        _str_list(f["ticket_prefixes"], (*p, "ticket_prefixes"), PREFIX_RE)
    )
    _ticket_sources(f, p)
    f["exclude_authors"] = tuple(_str_list(f["exclude_authors"], (*p, "exclude_authors")))
    if f["timezone"] != "UTC":
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(f["timezone"])
        except Exception:  # ZoneInfo raises several unrelated types
            raise Invalid((*p, "timezone"), f"unknown timezone {f['timezone']!r}") from None
    return AppConfig(**f)


def _ticket_sources(f: dict[str, Any], p: tuple[str | int, ...]) -> None:
    where = (*p, "ticket_sources")
    for i, source in enumerate(_str_list(f["ticket_sources"], where)):
        if source not in TICKET_SOURCES or source in f["ticket_sources"][:i]:
            raise Invalid((*where, i), f"{source!r}: name each of {', '.join(TICKET_SOURCES)} once")
    if not f["ticket_sources"]:
        raise Invalid(where, f"name at least one of {', '.join(TICKET_SOURCES)}")
    f["ticket_sources"] = tuple(f["ticket_sources"])
    if f["ticket_body"] not in TICKET_BODY:
        raise Invalid((*p, "ticket_body"), f"must be one of {', '.join(TICKET_BODY)}")
    if f["since"] is not None and not f["since"].strip():
        raise Invalid((*p, "since"), "name a commit, tag or branch, or leave it out")


def _releases(data: Any) -> ReleasesConfig:
    p: tuple[str | int, ...] = ("releases",)
    f = _fields(data, p, {"source": (str, None), "groups": (list, list)})
    groups = []
    for i, g in enumerate(f["groups"]):
        gp = (*p, "groups", i)
        gf = _fields(
            g,
            gp,
            {
                "key": (str, _MISSING),
                "title": (str, _MISSING),
                "match": (str, None),
                "reverts": (bool, False),
                "labels": (list, list),
            },
        )
        if not re.match(r"^[a-z0-9_-]+$", gf["key"]):
            raise Invalid((*gp, "key"), "lower-case letters, digits, - and _ only")
        _regex(gf["match"], (*gp, "match"))
        gf["labels"] = tuple(
            label_name(_check_type(v, str, (*gp, "labels", j)), (*gp, "labels", j))
            for j, v in enumerate(gf["labels"])
        )
        groups.append(GroupConfig(**gf))
    return ReleasesConfig(source=f["source"], groups=tuple(groups))


def _state(data: Any) -> StateConfig:
    return StateConfig(
        **_fields(data, ("state",), {"dir": (str, ".shipyard"), "database_url": (str, None)})
    )


def state_dir(root: Path, state: StateConfig) -> Path:
    """Where the app's state lives: ``SHIPYARD_STATE_DIR``, else ``[state] dir``."""
    override = os.environ.get("SHIPYARD_STATE_DIR")
    return _resolved(root, override or state.dir)


def database_url(root: Path, state: StateConfig) -> str:
    """``SHIPYARD_DATABASE_URL``, else ``[state] database_url``, else SQLite in the state dir."""
    url = os.environ.get("SHIPYARD_DATABASE_URL") or state.database_url
    return url or f"sqlite:///{state_dir(root, state) / 'shipyard.db'}"


@functools.lru_cache(maxsize=4096)
def _resolved(root: Path, relative: str) -> Path:
    """``root / relative`` resolved; remembered, as views ask for it on every request."""
    return (root / relative).resolve()
