"""The schema revision this version of Shipyard reads and writes (Alembic's head).

Kept apart from ``store.db`` so that a reader that only checks it (``store.quick_reads``)
does not import SQLAlchemy."""

HEAD_REVISION = "0013"
