"""``shipyard secrets rotate-key``: a new key, and every sealed value sealed again with it.

With ``[secrets] key = { file = ... }`` a new key is written in front of the old ones,
every secret of the app (all versions) is opened and sealed again in one transaction,
then the file keeps only the new key. A failure anywhere leaves the file holding both
keys and the database as it was, so nothing is ever unreadable. With ``{ env = ... }``
the operator puts the new key first in the variable (the old one after it) and the
command seals everything again with the first one.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.core.sealing import Keyring
from shipyard.services import envconfig as ec
from shipyard.services.context import Context
from shipyard.store import audit
from shipyard.store.models import ConfigEntry, ConfigVersion, Environment


@dataclass(frozen=True)
class Rotated:
    key_id: str
    retired: list[str]
    resealed: int


def _write_key_file(path: str, ring: Keyring) -> None:
    """Replace the key file atomically, readable by its owner only."""
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".shipyard-key-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write("\n".join(ring.lines()) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def rotate_key(ctx: Context) -> Rotated:
    ec.require(ctx, "admin")
    cfg = ctx.settings.secrets
    old = ec.keyring(ctx)
    ring = old.with_new_key() if cfg.key_file is not None else old
    if cfg.key_file is not None:
        _write_key_file(cfg.key_file, ring)

    def write(s: Session) -> int:
        rows = s.execute(
            select(ConfigEntry, ConfigVersion.version, Environment.name)
            .join(ConfigVersion, ConfigVersion.id == ConfigEntry.version_id)
            .join(Environment, Environment.id == ConfigVersion.environment_id)
            .where(Environment.app_id == ctx.app_id, ConfigEntry.kind == "secret")
        ).all()
        for entry, version, environment in rows:
            where = ec.seal_context(ctx.app_name, environment, entry.name)
            entry.value = ring.seal(ec.open_secret(ring, entry, where, version), where)
        retired = sorted(k for k in ring.keys if k != ring.current)
        audit.append(
            s,
            actor=ctx.actor,
            app=ctx.app_name,
            action="secrets.key_rotated",
            subject=ctx.app_name,
            data={"key": ring.current, "retired": retired, "resealed": len(rows)},
        )
        return len(rows)

    count = ctx.store.retrying(write)
    if cfg.key_file is not None:
        _write_key_file(cfg.key_file, ring.only_current())
    return Rotated(ring.current, sorted(k for k in ring.keys if k != ring.current), count)
