"""Shared fixtures: databases (SQLite and PostgreSQL), sample app repositories,
and a ``shipyard`` command run as a real process."""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shipyard.demo.repo import DemoRepo

PG_ADMIN = os.environ.get(
    "SHIPYARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SHIPYARD = str(Path(sys.executable).parent / "shipyard")
SAMPLE_APP = Path(__file__).parents[1] / "src" / "shipyard" / "demo" / "sample_app" / "app.py"
RELEASER = ("Ana Releaser", "ana@example.com")


# No command a test runs finds a warm server (``shipyard warm``) the test did not start:
# the client looks only in $XDG_RUNTIME_DIR/shipyard, here a directory of this run.
os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="shipyard-xdg-")
atexit.register(shutil.rmtree, os.environ["XDG_RUNTIME_DIR"], True)

_GIVEN: set[int] = set()
# Ports handed out come from below the kernel's ephemeral range (32768-60999 on Linux), so
# no outgoing connection holds one, and from above the demo's and `shipyard init`'s
# (8100 upward). Each one handed out is reserved with a lock on its byte of one shared file:
# another pytest process (an xdist worker, a run in another checkout) skips it until this
# process ends, even before the app it is meant for has bound it.
_PORTS = range(12000, 32000)
_RESERVATIONS = Path(tempfile.gettempdir()) / "shipyard-test-ports.lock"
_reservations: int | None = None


def _reserve(port: int) -> bool:
    global _reservations
    if _reservations is None:
        _reservations = os.open(_RESERVATIONS, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.lockf(_reservations, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
    except OSError:
        return False
    return True


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port nothing listens on, never one this test run handed out before
    (a sample app's port is only bound when it is deployed), nor one another test
    process holds (pytest-xdist workers, runs in other checkouts)."""
    start = random.randrange(len(_PORTS))
    for i in range(len(_PORTS)):
        port = _PORTS[(start + i) % len(_PORTS)]
        if port not in _GIVEN and _bindable(port) and _reserve(port):
            _GIVEN.add(port)
            return port
    raise RuntimeError(f"no fresh loopback port in {_PORTS.start}-{_PORTS.stop - 1}")


@contextmanager
def machine_wide(name: str, timeout: float = 240) -> Iterator[None]:
    """Hold a lock that every test process on this machine shares (pytest-xdist workers,
    runs in other checkouts): for tests that use something of the machine's, such as the
    demo's fixed ports 8100-8103."""
    path = Path(tempfile.gettempdir()) / f"shipyard-test-{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, f"{path} was held for {timeout:g}s"
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # releases the lock


@pytest.fixture
def demo_ports() -> Iterator[None]:
    """The demo's ports (8100-8103, else ones it picks) and those `shipyard init` looks
    at, for one test at a time: two demos started at once would both take 8100-8103."""
    with machine_wide("demo-ports"):
        yield


# -- parallel runs ---------------------------------------------------------------------------------

# Under pytest-xdist (`make test`), files are handed to the workers in collection order. The
# end-to-end and server directories hold the long scenarios: they go first, so the many short
# tests fill in at the end instead of one long file starting last.
_LONG_FIRST = ("e2e", "web", "packaging", "services", "bench")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a plain run keeps pytest's order

    def rank(item: pytest.Item) -> int:
        parts = item.path.relative_to(config.rootpath).parts
        top = parts[1] if len(parts) > 2 and parts[0] == "tests" else ""
        return _LONG_FIRST.index(top) if top in _LONG_FIRST else len(_LONG_FIRST)

    items.sort(key=rank)  # stable: each file keeps its tests' order


# -- databases ------------------------------------------------------------------------------------


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not _pg_reachable():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432 (.ci/run should start it)")
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432")
    from sqlalchemy import create_engine, text

    name = f"shipyard_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shipyard.db'}"
    return str(request.getfixturevalue("pg_url"))


# -- a sample app and the CLI ---------------------------------------------------------------------

CONFIG = """\
[app]
name = "monitor"
run = "{python} app.py"
ticket_prefixes = ["MNTOR"]
exclude_authors = ["dependabot[bot]", "*-l10n*"]

[checks]
unit = "{python} -m unittest -q"

[environments.stage]
port = {stage}
auto = true
artifact_wait = 2
health_timeout = 5

[environments.dev]
port = {dev}
accepts = '^[0-9a-f]{{7,12}}$'
tag = "dev-{{ref}}"
after = "stage"
health_timeout = 10

[environments.prod]
port = {prod}
accepts = '^\\d{{4}}\\.\\d{{2}}\\.\\d{{2}}(\\.\\d+)?$'
tag = "prod-{{ref}}"
after = "stage"
require_qa = true
artifact_wait = 2
health_timeout = 5
{extra}
"""

UNIT_TEST = """\
import json, unittest
from pathlib import Path

class T(unittest.TestCase):
    def test_features(self):
        self.assertIsInstance(json.loads(Path("features.json").read_text()), list)
"""


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Project:
    """A sample app repository with a shipyard.toml, driven through the real CLI."""

    repo: DemoRepo
    ports: dict[str, int]

    @property
    def path(self) -> Path:
        return self.repo.path

    def run(
        self,
        *args: str,
        user: str = "ana@example.com",
        timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> Result:
        proc = subprocess.run(
            [SHIPYARD, *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "SHIPYARD_USER": user, "COLUMNS": "200", **(env or {})},
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, **kw: object) -> Result:
        r = self.run(*args, **kw)  # type: ignore[arg-type]
        assert r.code == 0, f"shipyard {' '.join(args)} exited {r.code}:\n{r.text}"
        return r

    def version(self, env: str) -> dict[str, str] | None:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.ports[env]}/__version__", timeout=3
            ) as r:
                return dict(json.loads(r.read()))
        except OSError:
            return None

    def served(self, env: str) -> str | None:
        v = self.version(env)
        return v["commit"] if v else None

    def git_tags(self) -> list[str]:
        return self.repo.git("tag", "--list").split()

    def artifact_tags(self) -> list[str]:
        d = self.path / ".shipyard" / "artifacts" / "monitor" / "tags"
        return sorted(p.name for p in d.iterdir()) if d.is_dir() else []

    def head(self) -> str:
        return self.repo.git("rev-parse", "HEAD").strip()

    def features(self, *names: str) -> dict[str, str]:
        current = json.loads((self.path / "features.json").read_text())
        return {"features.json": json.dumps(current + list(names)) + "\n"}


def make_project(where: Path, extra: str = "") -> Project:
    repo = DemoRepo.create(where)
    ports = {"stage": free_port(), "prod": free_port(), "dev": free_port()}
    repo.commit(
        "Initial commit",
        {
            "app.py": SAMPLE_APP.read_text(),
            "test_app.py": UNIT_TEST,
            "features.json": "[]\n",
            "shipyard.toml": CONFIG.format(python=sys.executable, extra=extra, **ports),
            ".gitignore": ".shipyard/\n__pycache__/\n",
        },
        author=RELEASER,
    )
    return Project(repo, ports)


def make_named_project(
    where: Path, name: str, database_url: str, server_apps: list[str] | None = None
) -> Project:
    """A sample app named ``name`` on ``database_url`` (shared by apps served together);
    ``server_apps`` fills its ``[server] apps``."""
    extra = f'\n[state]\ndatabase_url = "{database_url}"\n'
    if server_apps:
        extra += f"\n[server]\napps = {json.dumps(server_apps)}\n"
    p = make_project(where, extra)
    if name != "monitor":
        toml = p.path / "shipyard.toml"
        text = toml.read_text().replace('name = "monitor"', f'name = "{name}"', 1)
        p.repo.commit(f"Serve as {name}", {"shipyard.toml": text}, author=RELEASER)
    return p


def asgi_post(app: Any, path: str, body: bytes, headers: dict[str, str]) -> Any:
    """POST to an ASGI app in-process (httpx.ASGITransport); the httpx.Response."""
    import asyncio

    import httpx

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shipyard.test") as c:
            return await c.post(path, content=body, headers=headers)

    return asyncio.run(go())


def stop_all(project: Project) -> None:
    subprocess.run(
        [SHIPYARD, "down"],
        cwd=project.path,
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "SHIPYARD_USER": "cleanup@example.com"},
    )


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = make_project(tmp_path / "monitor")
    try:
        yield p
    finally:
        stop_all(p)


@dataclass
class Server:
    url: str
    token: str | None
    log: Path
    proc: subprocess.Popen[bytes]


@contextmanager
def running_server(
    project_path: Path,
    *,
    schedule: bool = False,
    first_start: bool = True,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """``shipyard serve`` on a free loopback port, its output in a file (a pipe nobody reads
    would fill up and stall the server); stopped with SIGTERM on the way out."""
    import re
    import signal

    import httpx

    port = free_port()
    log = project_path / ".shipyard" / f"serve-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    args = [SHIPYARD, "serve", "--port", str(port)] + ([] if schedule else ["--no-schedule"])
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args,
            cwd=project_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "SHIPYARD_USER": "ops@example.com", **(env or {})},
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"shipyard serve exited: {log.read_text()[-2000:]}"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.1)
        found = re.search(r"(shp_\S+)", log.read_text())
        if first_start:
            assert found, f"no first-start token printed: {log.read_text()[:500]}"
        yield Server(url, found.group(1) if found else None, log, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def remote(where: Path, url: str, token: str, *args: str) -> Result:
    """``shipyard ARGS`` in ``where`` driving the server at ``url`` with ``token``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env.update(SHIPYARD_URL=url, SHIPYARD_TOKEN=token, COLUMNS="200")
    proc = subprocess.run(
        [SHIPYARD, *args],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
