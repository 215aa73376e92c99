"""Plain rows for the read-only everyday commands, with the standard library's ``sqlite3``.

Importing SQLAlchemy and the models costs more than these commands' queries; this
reads the same tables (``store.models``) as plain tuples, in one read transaction.
It only opens a database the store would open without changing anything: a SQLite
file already private (0600 in a 0700 folder), in WAL mode, at the head revision.
Anything else raises ``Unanswered`` and the caller goes through the store.
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from shipyard.core.states import ACTIVE_STATES, QUEUED
from shipyard.private import DIR_MODE, FILE_MODE
from shipyard.store.revision import HEAD_REVISION

# The columns of a deployment as the views show it (``services.records.Shown``).
SHOWN_COLUMNS = (
    "id",
    "ref",
    "tag",
    "commit",
    "kind",
    "state",
    "requested_by",
    "reason",
    "error",
    "created_at",
    "finished_at",
)
_DATES = (9, 10)  # created_at, finished_at among SHOWN_COLUMNS


class Unanswered(Exception):
    """The quick path cannot answer exactly as the store would; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def when(value: Any) -> datetime | None:
    """A stored time as the store reads it from SQLite: naive, as written."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    try:
        return datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        raise Unanswered(f"a stored time this does not read: {value!r}") from None


def _cols(alias: str) -> str:
    return ", ".join(f'{alias}."{c}"' for c in SHOWN_COLUMNS)


def _shown(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(when(v) if i in _DATES else v for i, v in enumerate(row))


def _database(url: str) -> Path:
    """The SQLite file of ``url``, when the store would open it as it is."""
    if not url.startswith("sqlite:///") or "?" in url:
        raise Unanswered("the database is not a SQLite file")
    path = Path(url.removeprefix("sqlite:///"))
    if str(path) in ("", ":memory:") or str(path).startswith("file:"):
        raise Unanswered("the database is not a SQLite file")
    try:
        mode, folder = path.stat().st_mode, path.parent.stat().st_mode
    except OSError:
        raise Unanswered("no database yet") from None
    if stat.S_IMODE(mode) != FILE_MODE or stat.S_IMODE(folder) != DIR_MODE:
        raise Unanswered("the database's modes are not private yet")
    return path


class QuickDb:
    """One read transaction on the app's SQLite database."""

    def __init__(self, url: str) -> None:
        path = _database(url)
        try:
            self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
        except sqlite3.Error as exc:
            raise Unanswered(f"cannot open the database: {exc}") from None
        self.db.isolation_level = None
        try:
            self.db.execute("BEGIN")
            mode = self.one("PRAGMA journal_mode")
            revision = self.one("SELECT version_num FROM alembic_version")
        except (sqlite3.Error, Unanswered):
            self.close()
            raise Unanswered("the database has no schema yet") from None
        if str(mode).lower() != "wal" or revision != HEAD_REVISION:
            self.close()
            raise Unanswered("the database is not at the head revision in WAL mode")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> QuickDb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rows(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.db.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise Unanswered(f"the database said: {exc}") from None

    def one(self, sql: str, args: Iterable[Any] = ()) -> Any:
        found = self.rows(sql, args)
        if not found:
            raise Unanswered("no row")
        return found[0][0]

    # -- what the store would do before answering ----------------------------------

    def app(self, name: str) -> tuple[int, str | None, str | None] | None:
        """(id, baseline_sha, last_seen_sha) of the app named ``name``."""
        found = self.rows(
            "SELECT id, baseline_sha, last_seen_sha FROM apps WHERE name = ?", (name,)
        )
        return (found[0][0], found[0][1], found[0][2]) if found else None

    def environments(self, app_id: int) -> dict[str, int]:
        """The app's environments: name -> id."""
        return dict(self.rows("SELECT name, id FROM environments WHERE app_id = ?", (app_id,)))

    def busy(self, app_id: int) -> bool:
        """Whether a deployment of the app is queued or in flight (recovery looks at it)."""
        states = sorted(ACTIVE_STATES | {QUEUED})
        marks = ", ".join("?" * len(states))
        sql = f"SELECT 1 FROM deployments WHERE app_id = ? AND state IN ({marks}) LIMIT 1"
        return bool(self.rows(sql, (app_id, *states)))

    def has_secrets(self, app_id: int) -> bool:
        """Whether an active config version of the app holds a secret."""
        return bool(
            self.rows(
                "SELECT 1 FROM config_entries ce"
                " JOIN config_versions cv ON cv.id = ce.version_id"
                " JOIN environments e ON e.id = cv.environment_id"
                " WHERE e.app_id = ? AND ce.kind = 'secret' AND cv.state = 'active' LIMIT 1",
                (app_id,),
            )
        )

    # -- the views' rows ------------------------------------------------------------

    def deployments(self, env_id: int, limit: int) -> list[tuple[Any, ...]]:
        """An environment's newest ``limit`` deployments (``SHOWN_COLUMNS``), newest first."""
        rows = self.rows(
            f"SELECT {_cols('d')} FROM deployments d WHERE d.environment_id = ?"
            " ORDER BY d.id DESC LIMIT ?",
            (env_id, limit),
        )
        return [_shown(r) for r in rows]

    def current(self, app_id: int) -> dict[str, tuple[Any, ...]]:
        """Environment name -> the deployment it runs (``SHOWN_COLUMNS``)."""
        rows = self.rows(
            f"SELECT e.name, {_cols('d')} FROM environments e"
            " JOIN deployments d ON d.id = e.current_deployment_id WHERE e.app_id = ?",
            (app_id,),
        )
        return {r[0]: _shown(r[1:]) for r in rows}

    def releases(self, app_id: int, limit: int) -> list[tuple[Any, ...]]:
        """(tag, sha, latest, created_by, created_at), newest first."""
        rows = self.rows(
            "SELECT tag, sha, latest, created_by, created_at FROM releases WHERE app_id = ?"
            " ORDER BY id DESC LIMIT ?",
            (app_id, limit),
        )
        return [(t, s, bool(latest), by, when(at)) for t, s, latest, by, at in rows]

    def tickets(self, app_id: int, status: str | None) -> list[tuple[Any, ...]]:
        """(key, status, promoted_to, reason, updated_by, updated_at), as the board lists them."""
        where, args = "app_id = ?", list[Any]([app_id])
        if status is not None:
            where, args = "app_id = ? AND status = ?", [app_id, status]
        rows = self.rows(
            "SELECT key, status, promoted_to, reason, updated_by, updated_at FROM tickets"
            f" WHERE {where} ORDER BY updated_at DESC, key",
            args,
        )
        return [(*r[:5], when(r[5])) for r in rows]

    def ticket_states(self, app_id: int, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """Key -> (status, promoted_to) of those of ``keys`` the board has."""
        if not keys:
            return {}
        marks = ", ".join("?" * len(keys))
        rows = self.rows(
            f"SELECT key, status, promoted_to FROM tickets WHERE app_id = ? AND key IN ({marks})",
            (app_id, *keys),
        )
        return {k: (s, p) for k, s, p in rows}

    def environment_rows(self, app_id: int) -> list[tuple[Any, ...]]:
        """Each environment as ``services.records.EnvRow`` has it (the active config version
        last)."""
        return self.rows(
            "SELECT e.id, e.name, e.pinned_by, e.pinned_reason, e.waiting_base, e.waiting_head,"
            " e.waiting_changes, e.waiting_tickets, e.config_version, cv.version"
            " FROM environments e LEFT OUTER JOIN config_versions cv"
            " ON cv.environment_id = e.id AND cv.state = 'active' WHERE e.app_id = ?",
            (app_id,),
        )

    def latest_failures(self, app_id: int) -> dict[int, tuple[Any, ...]]:
        """Environment id -> its newest failed deployment newer than the one it runs."""
        rows = self.rows(
            f"SELECT d.environment_id, {_cols('d')} FROM deployments d WHERE d.id IN ("
            " SELECT max(f.id) FROM deployments f JOIN environments e ON e.id = f.environment_id"
            " WHERE f.app_id = ? AND f.state = 'failed'"
            " AND f.id > coalesce(e.current_deployment_id, 0) GROUP BY f.environment_id)",
            (app_id,),
        )
        return {r[0]: _shown(r[1:]) for r in rows}

    def owed(self, app_id: int) -> list[tuple[Any, ...]]:
        """The re-reverts still owed, oldest first, as ``services.records.OwedRecord``."""
        rows = self.rows(
            "SELECT pr, sha, title, tickets, reason, reverted_by, reverted_at, branch,"
            " revert_sha, revert_pr, revert_url FROM owed_rereverts"
            " WHERE app_id = ? AND cleared_at IS NULL ORDER BY id",
            (app_id,),
        )
        return [(*r[:6], when(r[6]), *r[7:]) for r in rows]
