"""The local runtime: each environment behind a stable loopback port, like kamal-proxy.

A small proxy process (``proxy.py``) owns ``127.0.0.1:<port>`` and forwards new
connections to the current instance's private port. A deploy starts the new
instance beside the old one, waits until it is healthy *and* reports the
expected commit, tells the proxy to switch (acknowledged over its control
socket), lets the old instance's connections drain and stops it. Proxies and
instances are detached: environments keep serving after the CLI exits.

Instances get ``PORT`` (the private port), ``SHIPYARD_APP``, ``SHIPYARD_ENV``
and the spec's env vars, on top of the caller's environment without its
``SHIPYARD_*`` variables. The directory of ``python`` comes first on ``PATH``,
so ``run = "python app.py"`` means Shipyard's own interpreter.

Example::

    runtime = LocalRuntime(Path(".shipyard"))
    runtime.deploy(spec, on_progress=print)
    runtime.current("shop", "stage").commit
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from shipyard.adapters.runtime import (
    Health,
    InstanceInfo,
    InstanceLog,
    InstanceSpec,
    Progress,
    control,
    instance,
    logs,
    procs,
    retire,
)
from shipyard.adapters.runtime.probe import get, same_commit
from shipyard.adapters.runtime.state import (
    EnvState,
    InstanceRecord,
    StateStore,
    now_iso,
)
from shipyard.errors import DeployFailed, ShipyardError

PROXY_START_TIMEOUT = 10.0


def _quiet(message: str) -> None:
    pass


class LocalRuntime:
    """Runs environments as local processes; state lives under ``state_dir/runtime``.

    ``grace`` is how long a stopped instance may take to exit after SIGTERM,
    ``drain`` how long its open connections may take to finish after a switch. With
    ``background_retire`` a deploy returns right after the switch and a detached process
    drains and stops the replaced instance (``retire``); else the deploy waits for that.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str = "127.0.0.1",
        python: str = sys.executable,
        grace: float = 10.0,
        drain: float = 5.0,
        lock_timeout: float = 120.0,
        background_retire: bool = False,
    ) -> None:
        self.store = StateStore(state_dir)
        self.host = host
        # A path stays as it is, as which() would leave it: no lookup per runtime built.
        self.python = python if os.path.isabs(python) else (shutil.which(python) or python)
        self.grace = grace
        self.drain = drain
        self.lock_timeout = lock_timeout
        self.background_retire = background_retire

    # -- the Runtime protocol --------------------------------------------------

    def deploy(
        self, spec: InstanceSpec, *, timeout: float = 30.0, on_progress: Progress | None = None
    ) -> InstanceInfo:
        with self._operation(spec.app, spec.env):
            # Instances retired since are struck off by the deploy's first save.
            state = self._settle(self._load(spec.app, spec.env), prune_now=False)
            return self._deploy(state, spec, timeout, on_progress or _quiet)

    def up(
        self, spec: InstanceSpec, *, timeout: float = 30.0, on_progress: Progress | None = None
    ) -> InstanceInfo:
        with self._operation(spec.app, spec.env):
            state = self._settle(self._load(spec.app, spec.env))
            cur = state.current
            if (
                cur
                and self._running(cur)
                and same_commit(cur.commit, spec.commit)
                and cur.config_version == spec.config_version
            ):
                return self._serve(state, cur, spec.port)
            return self._deploy(state, spec, timeout, on_progress or _quiet)

    def down(self, app: str, env: str) -> None:
        with self._operation(app, env):
            state = self.store.load(app, env)
            if state is None:
                return
            if state.proxy:
                procs.stop(state.proxy.token, state.proxy.pid, grace=self.grace)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(state.proxy.control)
            for record in (state.pending, state.current, *state.retiring):
                if record:
                    procs.stop(record.token, record.pid, grace=self.grace)
            current = replace(state.current, pid=None) if state.current else None
            stopped = state.but(status="stopped", proxy=None, pending=None, retiring=())
            self.store.save(replace(stopped, current=current))

    def recover(
        self,
        app: str,
        env: str,
        *,
        env_vars: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> InstanceInfo | None:
        with self._operation(app, env):
            loaded = self.store.load(app, env)
            if loaded is None:
                return None
            state = self._settle(loaded)
            cur = state.current
            if state.status != "running" or cur is None:
                return None
            if self._running(cur):
                return self._serve(state, cur, state.port)
            spec = self._spec_of(state, cur, env_vars)
            return self._deploy(state, spec, timeout, _quiet)

    def current(self, app: str, env: str) -> InstanceInfo | None:
        with self._operation(app, env, lock=False):
            state = self.store.load(app, env)
            if state is None or state.status != "running" or state.current is None:
                return None
            if not (control.is_running(state.proxy) and self._running(state.current)):
                return None
            return self._info(state, state.current)

    def health(self, app: str, env: str, health_path: str) -> Health:
        with self._operation(app, env, lock=False):
            state = self.store.load(app, env)
            if state is None or state.status != "running":
                return Health("stopped", "not running")
            if not control.is_running(state.proxy):
                return Health("stopped", f"nothing listens on port {state.port}")
            if state.current is None or not self._running(state.current):
                return Health("unhealthy", "the current instance is not running")
            answer = get(self.host, state.port, health_path, timeout=2.0)
            detail = f"{health_path}: {answer.describe()}"
            return Health("healthy" if answer.status == 200 else "unhealthy", detail)

    def log(
        self, app: str, env: str, *, commit: str | None = None, lines: int = 100
    ) -> InstanceLog | None:
        with self._operation(app, env, lock=False):
            state = self.store.load(app, env)
            cur = state.current if state else None
            path = logs.find(self.store.log_dir(app, env), commit, cur.log if cur else None)
            if path is None:
                return None
            serving = cur is not None and cur.log == str(path) and self._running(cur)
            return logs.tail(path, lines, serving)

    def read_log(self, app: str, env: str, name: str, offset: int) -> tuple[str, int]:
        with self._operation(app, env, lock=False):
            return logs.read_since(self.store.log_dir(app, env), name, offset)

    # -- deploying ---------------------------------------------------------------

    def _deploy(
        self, state: EnvState, spec: InstanceSpec, timeout: float, progress: Progress
    ) -> InstanceInfo:
        if not spec.artifact_dir.is_dir():
            raise DeployFailed(f"artifact directory {spec.artifact_dir} does not exist")
        self._check_port(state, spec.port)
        state, new = self._start_instance(state, spec, progress)
        try:
            instance.wait_ready(self.host, spec, new, timeout, progress)
            progress(f"healthy; switching port {spec.port} to {spec.commit[:12]}")
            state = self._point_proxy(state, spec.port, new.port)
        except BaseException:
            self._discard(state, new)
            raise
        old = state.current
        state = state.but(status="running", port=spec.port, current=new, pending=None)
        if old is not None and self.background_retire and self._running(old):
            # Listed as retiring in the same save, so that dying right after leaves no orphan.
            state = state.but(retiring=(*state.retiring, old))
            self.store.save(state)
            retire.spawn(self.python, state.proxy, old, drain=self.drain, grace=self.grace)
            progress(f"previous instance {old.commit[:12]} drains and stops in the background")
        else:
            self.store.save(state)
            if old is not None:
                self._retire(state, old, progress)
        return self._info(state, new)

    def _start_instance(
        self, state: EnvState, spec: InstanceSpec, progress: Progress
    ) -> tuple[EnvState, InstanceRecord]:
        token = procs.new_token()
        record = InstanceRecord(
            token=token,
            pid=None,
            log=str(self._new_log(state, spec.commit, token)),
            started_at=now_iso(),
            port=procs.free_port(self.host),
            commit=spec.commit,
            artifact_dir=str(spec.artifact_dir.resolve()),
            run=spec.run,
            health_path=spec.health_path,
            env_keys=instance.own_env_keys(spec),
            config_version=spec.config_version,
        )
        # Recorded before the spawn: if we die right after it, the token still
        # finds the process.
        state = state.but(pending=record)
        self.store.save(state)
        progress(f"starting {spec.commit[:12]} on private port {record.port}")
        record = instance.spawn(record, spec, self.python)
        state = state.but(pending=record)
        self.store.save(state)
        return state, record

    def _discard(self, state: EnvState, new: InstanceRecord) -> None:
        """Kill an instance that never got traffic; the previous one keeps serving."""
        procs.stop(new.token, new.pid, grace=min(self.grace, 5.0))
        with contextlib.suppress(OSError):
            self.store.save(state.but(pending=None))

    def _retire(self, state: EnvState, old: InstanceRecord, progress: Progress) -> None:
        """Let the old instance's open connections finish, then stop it."""
        if not self._running(old):
            return
        progress(f"draining previous instance {old.commit[:12]}")
        control.drain(state.proxy, old.port, self.drain)
        if procs.stop(old.token, old.pid, grace=self.grace):
            progress(f"stopped previous instance {old.commit[:12]}")
        else:
            progress(f"previous instance {old.commit[:12]} (pid {old.pid}) would not stop")

    # -- the proxy -----------------------------------------------------------------

    def _check_port(self, state: EnvState, port: int) -> None:
        if state.proxy and state.proxy.port == port and control.is_running(state.proxy):
            return
        if not procs.port_is_free(self.host, port):
            raise DeployFailed(f"port {port} is in use by another process", port=port)

    def _point_proxy(self, state: EnvState, port: int, target: int) -> EnvState:
        """Send new connections on ``port`` to ``target``; returns once that is true."""
        proxy = state.proxy
        if proxy and proxy.port == port and control.is_running(proxy):
            try:
                control.switch(Path(proxy.control), target)
            except control.ControlError as exc:
                # The answer may be what got lost: believe the proxy's own status.
                if control.target_of(proxy) != target:
                    raise DeployFailed(
                        f"{state.app}/{state.env}: could not switch the proxy on port {port}: {exc}"
                    ) from exc
            return state
        sock = control.socket_path(self.store.app_dir(state.app, state.env) / f"{state.env}.sock")
        log = self.store.log_dir(state.app, state.env) / "proxy.log"
        labels = {"SHIPYARD_APP": state.app, "SHIPYARD_ENV": state.env}
        new = control.spawn_proxy(self.python, self.host, port, target, sock, log, labels)
        self.store.save(state.but(proxy=new))  # so that dying while we wait leaves no orphan
        try:
            control.wait_started(new, target, PROXY_START_TIMEOUT)
        except control.ControlError as exc:
            raise DeployFailed(
                f"{state.app}/{state.env}: proxy on port {port} did not start: {exc}", port=port
            ) from exc
        if proxy:
            procs.stop(proxy.token, proxy.pid, grace=self.grace)  # it listened on another port
        return state.but(proxy=new)

    def _serve(self, state: EnvState, cur: InstanceRecord, port: int) -> InstanceInfo:
        """Make the proxy on ``port`` forward to the running instance ``cur``."""
        proxy = state.proxy
        ready = proxy and proxy.port == port and control.is_running(proxy)
        if not (ready and proxy and control.target_of(proxy) == cur.port):
            self._check_port(state, port)
            state = self._point_proxy(state, port, cur.port)
        state = state.but(status="running", port=port)
        self.store.save(state)
        return self._info(state, cur)

    # -- recovering ----------------------------------------------------------------

    def _settle(self, state: EnvState, *, prune_now: bool = True) -> EnvState:
        """Resolve a deploy whose process died: keep its instance if traffic reached it.
        Instances retired since leave ``retiring`` (saved later if not ``prune_now``)."""
        live = tuple(r for r in state.retiring if self._running(r))
        if live != state.retiring:  # those retired since; one listed but gone is harmless
            state = state.but(retiring=live)
            if prune_now:
                self.store.save(state)
        new = state.pending
        if new is None:
            return state
        proxy = state.proxy
        switched = (
            proxy is not None
            and control.is_running(state.proxy)
            and self._running(new)
            and control.target_of(proxy) == new.port
        )
        if not switched:
            procs.stop(new.token, new.pid, grace=min(self.grace, 5.0))
            state = state.but(pending=None)
            self.store.save(state)
            return state
        old = state.current
        state = state.but(status="running", current=new, pending=None)
        self.store.save(state)
        if old is not None:
            self._retire(state, old, _quiet)
        return state

    def _spec_of(
        self, state: EnvState, cur: InstanceRecord, env_vars: Mapping[str, str] | None
    ) -> InstanceSpec:
        missing = sorted(set(cur.env_keys) - set(env_vars or {}))
        if missing:
            raise DeployFailed(
                f"{state.app}/{state.env}: cannot restart {cur.commit[:12]} without its "
                f"environment variables ({', '.join(missing)}); pass env_vars or call up()"
            )
        return InstanceSpec(
            app=state.app,
            env=state.env,
            port=state.port,
            artifact_dir=Path(cur.artifact_dir),
            commit=cur.commit,
            run=cur.run,
            health_path=cur.health_path,
            env_vars=dict(env_vars or {}),
            config_version=cur.config_version,
        )

    # -- helpers -------------------------------------------------------------------

    def _load(self, app: str, env: str) -> EnvState:
        return self.store.load(app, env) or EnvState(app=app, env=env)

    def _running(self, record: InstanceRecord) -> bool:
        return procs.is_running(record.pid, record.token)

    def _info(self, state: EnvState, record: InstanceRecord) -> InstanceInfo:
        assert record.pid is not None
        return InstanceInfo(
            app=state.app,
            env=state.env,
            commit=record.commit,
            pid=record.pid,
            private_port=record.port,
            port=state.port,
            started_at=datetime.fromisoformat(record.started_at),
            artifact_dir=Path(record.artifact_dir),
            log_path=Path(record.log),
            config_version=record.config_version,
        )

    def _new_log(self, state: EnvState, commit: str, token: str) -> Path:
        in_use = {r.log for r in (state.current, state.pending, *state.retiring) if r}
        return logs.new_path(self.store.log_dir(state.app, state.env), commit, token, in_use)

    @contextlib.contextmanager
    def _operation(self, app: str, env: str, *, lock: bool = True) -> Iterator[None]:
        """Hold the environment's lock; turn OS-level failures into DeployFailed."""
        try:
            with contextlib.ExitStack() as stack:
                if lock:
                    stack.enter_context(self.store.locked(app, env, timeout=self.lock_timeout))
                yield
        except ShipyardError:
            raise
        except (OSError, procs.SpawnError, control.ControlError) as exc:
            detail = getattr(exc, "strerror", None) or str(exc)
            where = getattr(exc, "filename", None)
            suffix = f": {where}" if where else ""
            raise DeployFailed(f"{app}/{env}: runtime error: {detail}{suffix}") from exc
