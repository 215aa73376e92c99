"""What the local runtime remembers about each environment, on disk.

One JSON file per environment, ``<state_dir>/runtime/<app>/<env>.json``,
replaced atomically (write a temp file, fsync, ``os.replace``) so a reader never
sees half a file. Writers take ``<env>.lock`` (``flock``): the kernel drops it
when its holder dies, so a held lock always means a live operation. Env var
values are never stored, only their names.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from shipyard.errors import Busy, ConfigError, ShipyardError
from shipyard.private import open_private, private_dir

SCHEMA = 1
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
Status = Literal["running", "stopped"]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ProcessRecord:
    """A process we started: ``token`` tells it apart from a reused pid."""

    token: str
    pid: int | None
    log: str
    started_at: str


@dataclass(frozen=True)
class ProxyRecord(ProcessRecord):
    port: int = 0
    control: str = ""


@dataclass(frozen=True)
class InstanceRecord(ProcessRecord):
    port: int = 0
    commit: str = ""
    artifact_dir: str = ""
    run: str = ""
    health_path: str = "/__heartbeat__"
    env_keys: tuple[str, ...] = ()
    config_version: str | None = None


@dataclass(frozen=True)
class EnvState:
    """``status`` is the intent: "running" after a deploy or up, "stopped" after down.

    ``pending`` is an instance being started and not yet switched to; it only
    survives in the file when the process deploying it died. ``retiring`` are replaced
    instances a background process drains and stops (``retire``); they are dropped from
    the list once gone.
    """

    app: str
    env: str
    port: int = 0
    status: Status = "stopped"
    proxy: ProxyRecord | None = None
    current: InstanceRecord | None = None
    pending: InstanceRecord | None = None
    retiring: tuple[InstanceRecord, ...] = ()
    updated_at: str = field(default_factory=now_iso)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["schema"] = SCHEMA
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnvState:
        def instance(raw: Any) -> InstanceRecord | None:
            if not raw:
                return None
            return InstanceRecord(**{**raw, "env_keys": tuple(raw.get("env_keys", ()))})

        proxy = data.get("proxy")
        return cls(
            app=data["app"],
            env=data["env"],
            port=int(data.get("port", 0)),
            status="running" if data.get("status") == "running" else "stopped",
            proxy=ProxyRecord(**proxy) if proxy else None,
            current=instance(data.get("current")),
            pending=instance(data.get("pending")),
            retiring=tuple(r for r in map(instance, data.get("retiring") or ()) if r),
            updated_at=data.get("updated_at", now_iso()),
        )

    def but(self, **changes: Any) -> EnvState:
        return replace(self, updated_at=now_iso(), **changes)


class StateStore:
    """Reads and writes the state files under ``<state_dir>/runtime``."""

    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir) / "runtime"

    def app_dir(self, app: str, env: str) -> Path:
        for kind, name in (("app", app), ("environment", env)):
            if not NAME.match(name):
                raise ConfigError(f"invalid {kind} name {name!r} for the local runtime")
        return self.root / app

    def path(self, app: str, env: str) -> Path:
        return self.app_dir(app, env) / f"{env}.json"

    def log_dir(self, app: str, env: str) -> Path:
        return self.app_dir(app, env) / "logs" / env

    def load(self, app: str, env: str) -> EnvState | None:
        path = self.path(app, env)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return EnvState.from_json(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ShipyardError(f"runtime state {path} is unreadable: {exc}") from exc

    def save(self, state: EnvState) -> None:
        path = self.path(state.app, state.env)
        private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{state.env}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(state.to_json(), fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def locked(self, app: str, env: str, *, timeout: float) -> Iterator[None]:
        """Hold the environment's lock; Busy if another operation keeps it past ``timeout``."""
        lock_path = self.app_dir(app, env) / f"{env}.lock"
        private_dir(lock_path.parent)
        with os.fdopen(open_private(lock_path, os.O_RDWR | os.O_APPEND), "a+b") as fh:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Busy(
                            f"{app}/{env}: another runtime operation is still running"
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
