"""Starting an app instance and deciding when it may get traffic."""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import replace
from pathlib import Path

from shipyard.adapters.runtime import InstanceSpec, Progress, procs
from shipyard.adapters.runtime.probe import get, reported_commit, same_commit
from shipyard.adapters.runtime.state import InstanceRecord
from shipyard.core.environ import clean_env
from shipyard.errors import DeployFailed

# Set by the runtime itself, whatever the spec says.
RESERVED = frozenset({"PORT", "SHIPYARD_APP", "SHIPYARD_ENV", procs.TOKEN_VAR})


def own_env_keys(spec: InstanceSpec) -> tuple[str, ...]:
    """Names of the spec's env vars that only the caller can provide again."""
    return tuple(sorted(set(spec.env_vars) - RESERVED))


def instance_env(spec: InstanceSpec, python: str, token: str, port: int) -> dict[str, str]:
    """An allow-list of the caller's environment (``core.environ``), then the spec's, then ours.

    Nothing else of the caller's passes: a server's secrets never reach an app.
    ``python``'s directory goes first on PATH so that ``python app.py`` runs
    with the interpreter Shipyard itself uses.
    """
    env = clean_env(os.environ)
    bin_dir = os.path.dirname(python)
    env["PATH"] = os.pathsep.join(p for p in (bin_dir, env.get("PATH", os.defpath)) if p)
    env.update(spec.env_vars)
    env.update({"PORT": str(port), "SHIPYARD_APP": spec.app, "SHIPYARD_ENV": spec.env})
    env[procs.TOKEN_VAR] = token
    return env


def spawn(record: InstanceRecord, spec: InstanceSpec, python: str) -> InstanceRecord:
    """Run ``spec.run`` with ``sh`` from the artifact directory; the record gains its pid."""
    script = f"cd -- {shlex.quote(record.artifact_dir)} || exit 126\n{spec.run}"
    env = instance_env(spec, python, record.token, record.port)
    pid = procs.spawn(["/bin/sh", "-c", script], env, Path(record.log))
    return replace(record, pid=pid)


def wait_ready(
    host: str, spec: InstanceSpec, new: InstanceRecord, timeout: float, progress: Progress
) -> None:
    """Return once ``new`` answers its health path and reports ``spec.commit``.

    Raises DeployFailed as soon as the instance exits or reports another
    commit, or once ``timeout`` seconds have passed.
    """
    progress(f"waiting for {spec.health_path} and /__version__ (up to {timeout:g}s)")
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    # Growing by a fifth: an app ready after 45 ms is seen by 52 ms (doubling: 62 ms),
    # for a dozen more polls of the loopback in the first second.
    pauses = procs.pauses(most=0.1, growth=1.2)
    while True:
        _raise_if_exited(spec, new)
        answer = get(host, new.port, spec.health_path, timeout=1.0)
        if answer.status == 200:
            version = get(host, new.port, "/__version__", timeout=1.0)
            reported = reported_commit(version)
            if reported is not None and not same_commit(reported, spec.commit):
                raise failure(
                    spec,
                    new,
                    f"version mismatch: /__version__ reports commit {reported[:12]}, "
                    f"expected {spec.commit[:12]}",
                )
            if reported is not None:
                return
            last = f"/__version__ answered {version.describe()} without a commit"
        else:
            last = f"{spec.health_path} answered {answer.describe()}"
        if time.monotonic() >= deadline:
            _raise_if_exited(spec, new)
            raise failure(spec, new, f"not healthy after {timeout:g}s: {last}")
        time.sleep(min(next(pauses), max(0.0, deadline - time.monotonic())))


def _raise_if_exited(spec: InstanceSpec, new: InstanceRecord) -> None:
    exited, code = procs.gone(new.pid, new.token)
    if code is not None:
        raise failure(spec, new, f"exited with code {code}")
    if exited:
        raise failure(spec, new, "exited")


def failure(spec: InstanceSpec, new: InstanceRecord, reason: str) -> DeployFailed:
    """DeployFailed for ``reason``, with the instance's last log lines."""
    tail = procs.log_tail(Path(new.log))
    suffix = f" (last log line: {tail[-1][:200]})" if tail else ""
    return DeployFailed(
        f"{spec.app}/{spec.env}: new instance {spec.commit[:12]} {reason}{suffix}",
        app=spec.app,
        env=spec.env,
        commit=spec.commit,
        reason=reason,
        log_tail=tail,
        log_path=new.log,
    )
