"""The local runtime with real processes on loopback ports."""

from __future__ import annotations

import gc
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import shipyard.demo
from conftest import free_port
from shipyard.adapters.runtime import InstanceSpec
from shipyard.adapters.runtime.local import LocalRuntime
from shipyard.errors import DeployFailed

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")

SAMPLE_APP = Path(shipyard.demo.__file__).parent / "sample_app" / "app.py"
ENV = "stage"


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def make_artifact(
    root: Path, name: str, *, commit: str | None = None, flags: tuple[str, ...] = ()
) -> Path:
    """The sample app plus its version.json; ``flags`` are marker files (CRASH, UNHEALTHY)."""
    artifact = root / "artifacts" / name
    artifact.mkdir(parents=True)
    shutil.copy(SAMPLE_APP, artifact / "app.py")
    version = {"commit": commit or sha(name), "version": name, "source": "test", "build": "1"}
    (artifact / "version.json").write_text(json.dumps(version))
    for flag in flags:
        (artifact / flag).write_text("")
    return artifact


def get(port: int, path: str = "/__version__") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def served_commit(port: int) -> str:
    status, body = get(port)
    assert status == 200
    commit: str = json.loads(body)["commit"]
    return commit


def environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def app_processes(app: str) -> dict[int, str]:
    """Live processes started for ``app``, mapped to their SHIPYARD_PROCESS token."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            env = environ_of(int(name))
            if env.get("SHIPYARD_APP") == app:
                found[int(name)] = env.get("SHIPYARD_PROCESS", "")
    return found


def read_state(state_dir: Path, app: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((state_dir / "runtime" / app / f"{ENV}.json").read_text())
    return data


def orphans(state_dir: Path, app: str) -> dict[int, str]:
    """Processes of ``app`` that are neither the proxy nor the current instance."""
    state = read_state(state_dir, app)
    known = {(state.get(k) or {}).get("token") for k in ("proxy", "current")}
    return {pid: token for pid, token in app_processes(app).items() if token not in known}


def proxy_connections(state_dir: Path, app: str) -> dict[int, int]:
    """Open connections per private port, as the environment's proxy counts them."""
    from shipyard.adapters.runtime import control

    _, counts = control.status(Path(read_state(state_dir, app)["proxy"]["control"]))
    return counts


def wait_for(condition: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def app() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def runtime(state_dir: Path, app: str) -> Iterator[LocalRuntime]:
    yield LocalRuntime(state_dir, grace=3.0, drain=1.0)
    LocalRuntime(state_dir, grace=3.0).down(app, ENV)
    leaked = app_processes(app)
    for pid in leaked:
        os.kill(pid, signal.SIGKILL)
    assert not leaked, f"processes left running: {leaked}"


@pytest.fixture
def make_spec(tmp_path: Path, app: str, port: int) -> Any:
    def make(name: str, **kwargs: Any) -> InstanceSpec:
        artifact = make_artifact(
            tmp_path, name, commit=kwargs.pop("reports", None), flags=kwargs.pop("flags", ())
        )
        return InstanceSpec(
            app=app,
            env=ENV,
            port=port,
            artifact_dir=artifact,
            commit=sha(name),
            run="python app.py",
            **kwargs,
        )

    return make


def test_first_deploy_serves_on_the_stable_port(
    runtime: LocalRuntime, make_spec: Any, port: int
) -> None:
    spec = make_spec("v1")
    messages: list[str] = []

    info = runtime.deploy(spec, on_progress=messages.append)

    assert served_commit(port) == spec.commit
    assert (info.commit, info.port) == (spec.commit, port)
    assert info.private_port != port
    assert runtime.current(spec.app, ENV) == info
    assert runtime.health(spec.app, ENV, "/__heartbeat__").state == "healthy"
    status, page = get(port, "/")
    assert status == 200 and b"v1" in page
    assert messages and messages[0].startswith(f"starting {spec.commit[:12]}")


def test_second_deploy_switches_with_no_failed_request(
    runtime: LocalRuntime, make_spec: Any, port: int, state_dir: Path
) -> None:
    v1, v2 = make_spec("v1"), make_spec("v2")
    first = runtime.deploy(v1)
    seen: Counter[str] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        deadline = time.monotonic() + 20
        for _ in range(2000):
            if stop.is_set() or time.monotonic() > deadline:
                return
            try:
                status, body = get(port)
                if status == 200:
                    seen[json.loads(body)["commit"]] += 1
                else:
                    failures.append(f"HTTP {status}")
            except Exception as exc:  # every failure counts, whatever its kind
                failures.append(repr(exc))

    client = threading.Thread(target=hammer)
    client.start()
    try:
        wait_for(lambda: seen[v1.commit] >= 20 or not client.is_alive(), "requests to v1")
        second = runtime.deploy(v2)
        wait_for(lambda: seen[v2.commit] >= 20 or not client.is_alive(), "requests to v2")
    finally:
        stop.set()
        client.join(30)

    assert failures == []
    assert seen[v1.commit] > 0 and seen[v2.commit] > 0
    assert runtime.current(v2.app, ENV) == second
    assert second.private_port != first.private_port
    assert orphans(state_dir, v1.app) == {}  # the old instance was stopped
    assert first.pid not in app_processes(v1.app)


def test_a_crashing_release_fails_and_the_old_one_keeps_serving(
    runtime: LocalRuntime, make_spec: Any, port: int, state_dir: Path
) -> None:
    v1 = make_spec("v1")
    runtime.deploy(v1)

    with pytest.raises(DeployFailed) as failed:
        runtime.deploy(make_spec("v2", flags=("CRASH",)))

    assert "exited with code 1" in failed.value.message
    assert "marked to crash" in failed.value.message
    assert any("marked to crash" in line for line in failed.value.details["log_tail"])
    assert "\n" not in failed.value.message
    assert served_commit(port) == v1.commit
    assert orphans(state_dir, v1.app) == {}
    assert read_state(state_dir, v1.app)["pending"] is None


def test_a_never_healthy_release_fails_after_the_timeout(
    runtime: LocalRuntime, make_spec: Any, port: int, state_dir: Path
) -> None:
    v1 = make_spec("v1")
    runtime.deploy(v1)

    with pytest.raises(DeployFailed) as failed:
        runtime.deploy(make_spec("v2", flags=("UNHEALTHY",)), timeout=1.5)

    assert "not healthy after 1.5s" in failed.value.message
    assert "HTTP 500" in failed.value.message
    assert served_commit(port) == v1.commit
    assert runtime.current(v1.app, ENV).commit == v1.commit  # type: ignore[union-attr]
    assert orphans(state_dir, v1.app) == {}


def test_a_release_reporting_another_commit_fails(
    runtime: LocalRuntime, make_spec: Any, port: int, state_dir: Path
) -> None:
    v1 = make_spec("v1")
    runtime.deploy(v1)

    with pytest.raises(DeployFailed) as failed:
        runtime.deploy(make_spec("v2", reports=sha("something else")))

    assert "version mismatch" in failed.value.message
    assert served_commit(port) == v1.commit
    assert orphans(state_dir, v1.app) == {}


def test_the_environment_outlives_the_runtime_object(
    state_dir: Path, runtime: LocalRuntime, make_spec: Any, port: int
) -> None:
    v1 = make_spec("v1")
    info = LocalRuntime(state_dir).deploy(v1)
    gc.collect()

    again = LocalRuntime(state_dir)

    assert again.current(v1.app, ENV) == info
    assert served_commit(port) == v1.commit
    (v1.artifact_dir / "UNHEALTHY").write_text("")
    health = again.health(v1.app, ENV, "/__heartbeat__")
    assert (health.state, health.detail) == ("unhealthy", "/__heartbeat__: HTTP 500")


def test_down_then_up_serves_the_same_commit(
    runtime: LocalRuntime, make_spec: Any, port: int, state_dir: Path
) -> None:
    v1 = make_spec("v1")
    runtime.deploy(v1)

    runtime.down(v1.app, ENV)

    assert runtime.current(v1.app, ENV) is None
    assert runtime.health(v1.app, ENV, "/__heartbeat__").state == "stopped"
    assert read_state(state_dir, v1.app)["status"] == "stopped"
    assert app_processes(v1.app) == {}
    with pytest.raises(ConnectionRefusedError):
        get(port)

    info = runtime.up(v1)

    assert served_commit(port) == v1.commit
    assert runtime.up(v1) == info  # already serving it: nothing restarts


def test_stale_pids_after_a_reboot_are_not_mistaken_for_ours(
    runtime: LocalRuntime, make_spec: Any, port: int, state_dir: Path
) -> None:
    v1 = make_spec("v1")
    runtime.deploy(v1)
    for pid in app_processes(v1.app):  # the machine went down
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not app_processes(v1.app), "the processes to die")
    with subprocess.Popen(["sleep", "60"]) as stranger:
        path = state_dir / "runtime" / v1.app / f"{ENV}.json"
        state = json.loads(path.read_text())
        state["proxy"]["pid"] = os.getpid()  # pids now reused by other processes
        state["current"]["pid"] = stranger.pid
        path.write_text(json.dumps(state))
        try:
            assert runtime.current(v1.app, ENV) is None

            info = runtime.recover(v1.app, ENV)

            assert info is not None and info.commit == v1.commit
            assert served_commit(port) == v1.commit
            assert stranger.poll() is None
        finally:
            stranger.kill()


DEPLOY_SCRIPT = """
import json, sys
from pathlib import Path
from shipyard.adapters.runtime import InstanceSpec
from shipyard.adapters.runtime.local import LocalRuntime
args = json.loads(sys.argv[1])
spec = InstanceSpec(app=args["app"], env=args["env"], port=args["port"],
                    artifact_dir=Path(args["artifact"]), commit=args["commit"], run="python app.py")
LocalRuntime(Path(args["state_dir"])).deploy(spec, timeout=120)
"""


def test_recover_after_a_deploy_killed_before_the_switch(
    runtime: LocalRuntime, make_spec: Any, port: int, state_dir: Path
) -> None:
    v1 = make_spec("v1")
    runtime.deploy(v1)
    v2 = make_spec("v2", flags=("UNHEALTHY",))  # keeps the deploy waiting
    args = {
        "app": v2.app,
        "env": ENV,
        "port": port,
        "artifact": str(v2.artifact_dir),
        "commit": v2.commit,
        "state_dir": str(state_dir),
    }

    with subprocess.Popen([sys.executable, "-c", DEPLOY_SCRIPT, json.dumps(args)]) as deploying:
        try:
            wait_for(
                lambda: (
                    (read_state(state_dir, v2.app)["pending"] or {}).get("pid")
                    and orphans(state_dir, v2.app)
                ),
                "the new instance to start",
            )
        finally:
            deploying.kill()
    assert orphans(state_dir, v2.app)  # the half-started instance outlived its deploy

    info = runtime.recover(v1.app, ENV)

    assert info is not None and info.commit == v1.commit
    assert served_commit(port) == v1.commit
    assert orphans(state_dir, v1.app) == {}
    assert read_state(state_dir, v1.app)["pending"] is None


def test_recover_keeps_an_instance_that_already_got_the_traffic(
    runtime: LocalRuntime, make_spec: Any, port: int, state_dir: Path
) -> None:
    v1, v2 = make_spec("v1"), make_spec("v2")
    runtime.deploy(v1)
    before = read_state(state_dir, v1.app)
    runtime.deploy(v2)
    # As if the deploy died right after the switch, before recording it.
    state = read_state(state_dir, v1.app)
    state["pending"], state["current"] = state["current"], before["current"]
    (state_dir / "runtime" / v1.app / f"{ENV}.json").write_text(json.dumps(state))

    info = runtime.recover(v1.app, ENV)

    assert info is not None and info.commit == v2.commit
    assert served_commit(port) == v2.commit
    assert read_state(state_dir, v1.app)["pending"] is None


def test_recover_restarts_with_env_vars_it_never_stored(
    runtime: LocalRuntime, make_spec: Any, port: int, state_dir: Path
) -> None:
    v1 = make_spec("v1", env_vars={"API_TOKEN": "s3cret", "SHIPYARD_ENV": ENV})
    info = runtime.deploy(v1)
    assert environ_of(info.pid)["API_TOKEN"] == "s3cret"
    assert "s3cret" not in (state_dir / "runtime" / v1.app / f"{ENV}.json").read_text()
    state = read_state(state_dir, v1.app)
    for pid, token in app_processes(v1.app).items():  # the instance died
        if token == state["current"]["token"]:
            os.kill(pid, signal.SIGKILL)
    wait_for(lambda: runtime.current(v1.app, ENV) is None, "the instance to die")

    with pytest.raises(DeployFailed, match=r"variables \(API_TOKEN\);"):
        runtime.recover(v1.app, ENV)
    again = runtime.recover(v1.app, ENV, env_vars={"API_TOKEN": "s3cret"})

    assert again is not None and again.commit == v1.commit and again.pid != info.pid
    assert served_commit(port) == v1.commit


def test_an_instance_sees_an_allow_list_of_the_callers_environment(
    runtime: LocalRuntime, make_spec: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_GITHUB_SECRET", "gh-secret-value")
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", "postgresql://u:pw@h/db")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-value")
    monkeypatch.setenv("LANG", "C.UTF-8")
    info = runtime.deploy(make_spec("v1", env_vars={"API_TOKEN": "own"}))
    seen = environ_of(info.pid)
    assert set(seen) <= {"PATH", "HOME", "LANG", "TMPDIR", "PORT", "API_TOKEN", "PWD", "SHLVL"} | {
        "SHIPYARD_APP",
        "SHIPYARD_ENV",
        "SHIPYARD_PROCESS",
    }, sorted(seen)
    assert seen["API_TOKEN"] == "own" and seen["LANG"] == "C.UTF-8" and "PORT" in seen


def test_a_port_taken_by_another_process_starts_nothing(
    runtime: LocalRuntime, make_spec: Any, port: int, app: str
) -> None:
    spec = make_spec("v1")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()

        with pytest.raises(DeployFailed, match=f"^port {port} is in use by another process$"):
            runtime.deploy(spec)

    assert app_processes(app) == {}
    assert runtime.current(app, ENV) is None


def test_a_deep_state_dir_still_gets_a_control_socket(
    tmp_path: Path, app: str, port: int, make_spec: Any
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "state"
    runtime = LocalRuntime(deep, grace=3.0, drain=1.0)
    spec = make_spec("v1")
    try:
        runtime.deploy(spec)
        runtime.deploy(make_spec("v2"))

        assert served_commit(port) == sha("v2")
        assert len(read_state(deep, app)["proxy"]["control"]) <= 100
    finally:
        runtime.down(app, ENV)
    assert app_processes(app) == {}


def test_moving_an_environment_to_another_port(
    runtime: LocalRuntime, make_spec: Any, port: int, app: str, state_dir: Path
) -> None:
    runtime.deploy(make_spec("v1"))
    other = free_port()

    runtime.deploy(replace(make_spec("v2"), port=other))
    runtime.deploy(replace(make_spec("v3"), port=other))  # the new proxy still takes commands

    assert served_commit(other) == sha("v3")
    with pytest.raises(ConnectionRefusedError):
        get(port)
    assert orphans(state_dir, app) == {}


def test_a_background_retire_drains_the_old_instance_after_the_deploy_returns(
    runtime: LocalRuntime, state_dir: Path, app: str, make_spec: Any, port: int
) -> None:
    background = LocalRuntime(state_dir, grace=3.0, drain=10.0, background_retire=True)
    v1, v2 = make_spec("v1"), make_spec("v2")
    first = background.deploy(v1)
    # A connection open through the proxy to v1 keeps v1 draining after the switch.
    held = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        wait_for(lambda: first.private_port in proxy_connections(state_dir, app), "v1 connection")
        messages: list[str] = []
        second = background.deploy(v2, on_progress=messages.append)

        assert served_commit(port) == v2.commit  # switched without waiting for v1
        assert any("in the background" in m for m in messages)
        token = app_processes(app)[first.pid]  # still running: draining its connection
        assert [r["token"] for r in read_state(state_dir, app)["retiring"]] == [token]
        held.sendall(b"GET /__version__ HTTP/1.0\r\n\r\n")
        assert b"200" in held.recv(64)  # and still answering it
    finally:
        held.close()
    wait_for(lambda: first.pid not in app_processes(app), "v1 to stop once drained")
    background.deploy(v1)  # the next operation forgets what has retired, lists what retires
    retiring = read_state(state_dir, app)["retiring"]
    assert [r["port"] for r in retiring] == [second.private_port]


def test_down_stops_an_instance_still_retiring(
    runtime: LocalRuntime, state_dir: Path, app: str, make_spec: Any, port: int
) -> None:
    background = LocalRuntime(state_dir, grace=3.0, drain=60.0, background_retire=True)
    first = background.deploy(make_spec("v1"))
    held = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        wait_for(lambda: first.private_port in proxy_connections(state_dir, app), "v1 connection")
        background.deploy(make_spec("v2"))
        assert first.pid in app_processes(app)

        runtime.down(app, ENV)

        assert app_processes(app) == {}
        assert read_state(state_dir, app)["retiring"] == []
    finally:
        held.close()
