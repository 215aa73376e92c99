"""``shipyard db upgrade``: bring the database schema to the newest revision.

Run once before new servers start (a Kubernetes init container, a release step):
concurrent runs on one database are safe, as the upgrade holds the database's
migration lock and a run that finds the schema at head changes nothing.
The database is ``SHIPYARD_DATABASE_URL`` when it is set (no ``shipyard.toml``
needed), else the one the app's ``shipyard.toml`` names.
"""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer

from shipyard.cli.common import console


def _database_url() -> str:
    url = os.environ.get("SHIPYARD_DATABASE_URL", "").strip()
    if url:
        return url
    from shipyard.config import load

    return load().database_url


def db_upgrade(
    wait: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            min=0,
            max=3600,
            help="Wait up to this long for the database to answer (it may still be starting).",
        ),
    ] = 0,
) -> None:
    """Upgrade the database schema to the newest revision; safe to run concurrently."""
    from shipyard.store.db import HEAD_REVISION, Store, StoreError, safe_url

    url = _database_url()
    store = Store(url)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                found = store.migrate()
                break
            except StoreError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(1.0)
    finally:
        store.close()
    where = safe_url(url)
    if found == HEAD_REVISION:
        console().print(f"database {where} already at revision {HEAD_REVISION}")
    else:
        console().print(
            f"database {where} upgraded from revision {found or 'none'} to {HEAD_REVISION}"
        )
