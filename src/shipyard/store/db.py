"""Opening the database: engine, transactions, migrations.

SQLite (the default) runs in WAL mode, and every write transaction starts with
``BEGIN IMMEDIATE`` so two processes serialise on the write lock instead of
failing half-way with "database is locked". PostgreSQL runs the same code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shipyard.errors import ConfigError, ShipyardError
from shipyard.private import private_dir, private_file
from shipyard.store.revision import HEAD_REVISION

__all__ = ["HEAD_REVISION", "Store", "StoreError", "open_store", "safe_url"]
MIGRATIONS = Path(__file__).parent / "migrations"

T = TypeVar("T")


class StoreError(ShipyardError):
    status = 503
    code = "store"


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event decide how transactions start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = "DEFERRED" if conn.get_execution_options().get("shipyard_read") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class Store:
    """Sessions on one database. ``write()`` for changes, ``read()`` for queries."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            if url.startswith("sqlite"):
                path = url.split("///", 1)[-1]
                if path and path != ":memory:" and not path.startswith("file:"):
                    private_dir(Path(path).parent)
                    private_file(Path(path))  # SQLite gives its -wal and -shm files this mode
                self.engine = _sqlite_engine(url)
            else:
                self.engine = create_engine(url, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise ConfigError(f"cannot use database {safe_url(url)}: {exc}") from None
        # What every session knows (``Session.info``): the scrubber the audit log applies.
        self._info: dict[str, Any] = {}
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, info=self._info)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(shipyard_read=True),
            expire_on_commit=False,
            info=self._info,
        )

    def scrub_with(self, scrub: Callable[[Any], Any]) -> None:
        """Have the audit log pass what it records through ``scrub`` (secrets out)."""
        self._info["scrub"] = scrub

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction; committed on success, rolled back on any error."""
        with self._sessions() as session:
            try:
                with session.begin():
                    yield session
            except OperationalError as exc:
                raise StoreError(f"database error: {_line(exc.orig)}") from None

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read_sessions() as session, session.begin():
            yield session

    def retrying(self, fn: Callable[[Session], T], *, attempts: int = 8) -> T:
        """Run ``fn`` in a write transaction, again if a concurrent writer won a race
        (the audit chain's unique ``prev_hash``, the one-active-deployment index)."""
        for attempt in range(attempts):
            try:
                with self.write() as session:
                    return fn(session)
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    def migrate(self) -> str | None:
        """Bring the schema to the newest revision (only when it is behind).

        Returns the revision found before, read under the migration lock (PostgreSQL's
        advisory lock, SQLite's write lock): of several processes migrating one database
        at once, one upgrades and the others find it at head and change nothing.
        """
        found = self.current_revision()
        if found == HEAD_REVISION:
            return found
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(724301)")
                found = MigrationContext.configure(conn).get_current_revision()
                if found != HEAD_REVISION:
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate {safe_url(self.url)}: {_line(exc)}") from None
        return found

    def current_revision(self) -> str | None:
        try:
            # A read: on SQLite it must not take the write lock (health probes call this).
            with self.engine.execution_options(shipyard_read=True).connect() as conn:
                row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
                conn.rollback()
        except OperationalError as exc:
            if "no such table" in str(exc) or "does not exist" in str(exc):
                return None
            raise StoreError(
                f"cannot open database {safe_url(self.url)}: {_line(exc.orig)}"
            ) from None
        except SQLAlchemyError as exc:
            if "does not exist" in str(exc):
                return None
            raise StoreError(f"cannot open database {safe_url(self.url)}: {_line(exc)}") from None
        return None if row is None else str(row[0])

    def close(self) -> None:
        self.engine.dispose()


def _line(exc: object) -> str:
    """A driver's message on one line (psycopg adds hints on lines of their own)."""
    return " ".join(str(exc).split())


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def configure_mappers() -> None:
    """Set every model's mapper up now, not at the first query: a process that forks
    workers (``shipyard warm``) does it once for all of them."""
    from sqlalchemy.orm import configure_mappers as configure

    import shipyard.store.models  # noqa: F401 - the mappers to set up

    configure()


def open_store(url: str) -> Store:
    store = Store(url)
    store.migrate()
    return store
