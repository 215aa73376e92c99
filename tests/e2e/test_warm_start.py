"""``shipyard warm``: commands handed to a real warm server run as they run cold.

Each test starts the server (a real detached process) in a socket directory of its
own and stops it on the way out; every comparison runs the same command cold (the
session's empty ``XDG_RUNTIME_DIR``, see conftest) and warm.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import SHIPYARD, Project, Result, make_project, stop_all


@dataclass
class Warm:
    """A socket directory for one test's warm server, and ways to ask about it."""

    p: Project
    runtime: str

    @property
    def env(self) -> dict[str, str]:
        return {"XDG_RUNTIME_DIR": self.runtime}

    @property
    def sockets(self) -> Path:
        return Path(self.runtime) / "shipyard"

    def start(self, *options: str, env: dict[str, str] | None = None) -> Result:
        # Run with its output on pipes: it returns only because the server it leaves
        # running holds neither of them.
        r = self.p.run("warm", *options, env={**self.env, **(env or {})})
        assert r.code == 0 and r.out.startswith("warm server started (pid "), r.text
        assert r.err == ""
        return r

    def status(self) -> str:
        return self.p.ok("warm", "--status", env=self.env).out

    def served(self) -> int:
        """How many commands the server for this code has run."""
        found = re.search(r"for this code: pid \d+, up .*?, (\d+) commands served", self.status())
        assert found, self.status()
        return int(found.group(1))

    def pid(self) -> int | None:
        found = re.search(r"for this code: pid (\d+)", self.status())
        return int(found.group(1)) if found else None


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for init to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state == "Z"


def wait_until(condition: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not true after {seconds:g}s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    p = make_project(tmp_path_factory.mktemp("warm") / "monitor")
    try:
        p.ok("sync")
        yield p
    finally:
        stop_all(p)


@pytest.fixture
def warm(app: Project) -> Iterator[Warm]:
    # Short: a socket's path holds at most 107 bytes; pytest's tmp_path can be longer.
    runtime = tempfile.mkdtemp(prefix="sy-warm-")
    w = Warm(app, runtime)
    try:
        yield w
    finally:
        pid = w.pid() if w.sockets.exists() else None
        app.run("warm", "--stop", env=w.env)
        if pid is not None:
            wait_until(lambda: gone(pid), 10)
        assert not list(w.sockets.glob("*.sock")) if w.sockets.exists() else True
        shutil.rmtree(runtime, ignore_errors=True)


def same(cold: Result, warm: Result) -> None:
    assert (warm.code, warm.out, warm.err) == (cold.code, cold.out, cold.err)


def test_reads_deploys_and_refusals_run_as_they_run_cold(app: Project, warm: Warm) -> None:
    warm.start()
    served = warm.served()
    commands = [
        ["status"],
        ["releases"],
        ["history", "stage"],
        ["--version"],
        ["deploy", "--help"],
        ["deploy", "nowhere", "abc1234", "--yes"],  # an unknown environment: 1, one line
        ["deploy", "prod", app.head()[:7], "--yes"],  # prod takes release tags only
        ["deploy"],  # Typer's usage error: 2
    ]
    for args in commands:
        same(app.run(*args), app.run(*args, env=warm.env))
    assert warm.served() == served + len(commands)
    refused = app.run("deploy", "nowhere", "abc1234", "--yes", env=warm.env)
    assert refused.code == 1 and refused.out == "" and len(refused.err.splitlines()) == 1
    assert "Traceback" not in refused.err

    # A deploy, with the caller's environment: the audit log names the caller's user.
    sha = app.head()
    done = app.run("deploy", "dev", sha[:7], "--yes", user="wendy@example.com", env=warm.env)
    assert done.code == 0, done.text
    assert f"✓ dev runs {sha[:7]}" in done.out
    assert app.served("dev") == sha
    assert "wendy@example.com" in app.ok("audit", "log", "--limit", "5").out
    assert warm.served() == served + len(commands) + 2


def test_a_prompt_reads_the_callers_terminal_and_ctrl_c_reaches_the_command(
    app: Project, warm: Warm
) -> None:
    warm.start()
    served = warm.served()
    said, codes = {}, {}
    for how, extra in (("cold", {}), ("warm", warm.env)):
        proc, terminal, before = at_prompt(app, extra)
        os.write(terminal, b"n\n")
        codes[how], said[how] = proc.wait(timeout=60), before + read_all(terminal)
    assert codes["warm"] == codes["cold"] != 0
    assert said["warm"] == said["cold"]
    assert "Deploy" in said["warm"] and "[y/N]" in said["warm"]

    # Waiting at the prompt: Ctrl-C ends the command as it ends a cold one; a signal that
    # kills it gives 128 + N, as a shell says.
    for how, extra, signum in (
        ("cold", {}, signal.SIGINT),
        ("warm", warm.env, signal.SIGINT),
        ("warm-hangup", warm.env, signal.SIGHUP),
    ):
        proc, terminal, _ = at_prompt(app, extra)
        # Python checks for a signal only once its read of the terminal blocks: one that
        # comes between the prompt and the read is noticed at the next key (cold too).
        time.sleep(0.5)
        proc.send_signal(signum)
        code = proc.wait(timeout=60)
        read_all(terminal)
        codes[how] = code if code >= 0 else 128 - code
    assert codes["warm"] == codes["cold"] != 0
    assert codes["warm-hangup"] == 128 + signal.SIGHUP
    assert warm.served() == served + 3


def at_prompt(app: Project, extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], int, str]:
    """``deploy dev SHA`` on a terminal (a real pty), waiting at its question: the process,
    the terminal's other end, and what it wrote so far."""
    proc, terminal = on_terminal(app, ["deploy", "dev", app.head()[:7]], extra, columns=120)
    seen = b""
    deadline = time.monotonic() + 60
    # With the space ``input(" ")`` writes: the command reads the terminal by then.
    while b"[y/N]: " not in seen:
        assert time.monotonic() < deadline and proc.poll() is None, seen
        if select.select([terminal], [], [], 1)[0]:
            seen += os.read(terminal, 4096)
    return proc, terminal, seen.decode()


def test_the_command_sees_the_callers_terminal(app: Project, warm: Warm) -> None:
    warm.start()
    served = warm.served()
    outputs = {}
    for how, extra in (("cold", {}), ("warm", warm.env)):
        proc, terminal = on_terminal(app, ["status"], extra, columns=97)
        outputs[how] = read_all(terminal)
        assert proc.wait(timeout=60) == 0, outputs[how]
    assert outputs["warm"] == outputs["cold"]
    assert "\x1b[" in outputs["warm"]  # colours: it saw a terminal
    assert max(len(line) for line in strip(outputs["warm"]).splitlines()) <= 97
    assert warm.served() == served + 1


def on_terminal(
    app: Project, args: list[str], extra: dict[str, str], columns: int
) -> tuple[subprocess.Popen[bytes], int]:
    """``shipyard ARGS`` on a terminal ``columns`` wide (a real pty): the process and the
    terminal's other end."""
    main, side = os.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "LINES")}
    proc = subprocess.Popen(
        [SHIPYARD, *args],
        cwd=app.path,
        stdin=side,
        stdout=side,
        stderr=side,
        env={**env, "TERM": "xterm-256color", "SHIPYARD_USER": "ana@example.com", **extra},
    )
    os.close(side)
    return proc, main


def read_all(terminal: int) -> str:
    """The rest of what is written to the terminal, until every writer has closed it."""
    out = b""
    while True:
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(terminal)
    return out.decode()


def strip(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\r", "")


def test_other_code_or_interpreter_settings_run_cold(app: Project, warm: Warm) -> None:
    warm.start()
    served = warm.served()
    # Any PYTHON* variable changes the key: the server is not this interpreter's.
    r = app.run("status", env={**warm.env, "PYTHONWARMTEST": "1"})
    same(app.run("status"), r)
    same(app.run("status"), app.run("status", env={**warm.env, "SHIPYARD_WARM": "off"}))
    assert warm.served() == served


def test_long_lived_servers_run_in_the_callers_own_process(app: Project, warm: Warm) -> None:
    # serve and demo stay in the caller's process tree, cgroup and limits (a systemd unit,
    # a container): the warm server never runs them.
    warm.start()
    served = warm.served()
    for command in ("serve", "demo"):
        same(app.run(command, "--help"), app.run(command, "--help", env=warm.env))
    assert warm.served() == served


def test_a_server_whose_code_changed_runs_nothing_and_exits(
    app: Project, warm: Warm, tmp_path: Path
) -> None:
    # A directory on sys.path (as site-packages is): installing into it changes the key.
    site = tmp_path / "site"
    site.mkdir()
    env = {**warm.env, "PYTHONPATH": str(site)}
    warm.start(env=env)
    found = re.search(r"pid (\d+)", app.ok("warm", "--status", env=env).out)
    assert found
    pid = int(found.group(1))
    same(app.run("status"), app.run("status", env=env))
    assert ", 1 commands served" in app.ok("warm", "--status", env=env).out
    (site / "newly_installed.py").write_text("")
    os.utime(site, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
    same(app.run("status"), app.run("status", env=env))  # cold: the key changed
    status = app.ok("warm", "--status", env=env).out
    assert status.startswith("no warm server for this code"), status
    assert "for other code (stale)" in status or gone(pid)
    wait_until(lambda: gone(pid), 30)  # it saw the change and exited


def test_a_socket_directory_open_to_others_is_refused(app: Project) -> None:
    runtime = tempfile.mkdtemp(prefix="sy-warm-")
    try:
        env = {"XDG_RUNTIME_DIR": runtime}
        # Missing: nothing is said, nothing is created.
        same(app.run("status"), app.run("status", env=env))
        assert os.listdir(runtime) == []
        sockets = Path(runtime) / "shipyard"
        sockets.mkdir(mode=0o755)
        sockets.chmod(0o755)
        (sockets / "warm-0.sock").write_text("")
        refused = app.run("warm", env=env)
        assert refused.code == 1 and len(refused.err.splitlines()) == 1, refused.text
        assert "refusing to use" in refused.err and "open to other users" in refused.err
        assert "Traceback" not in refused.err
        cold, r = app.run("status"), app.run("status", env=env)
        assert (r.code, r.out) == (cold.code, cold.out)
        assert r.err.splitlines() == [
            f"shipyard: not using the warm server: {sockets} is open to other users (mode 755)"
        ]
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def test_stop_and_idle_end_the_server(app: Project, warm: Warm) -> None:
    warm.start()
    pid = warm.pid()
    assert pid is not None
    again = app.ok("warm", env=warm.env)
    assert again.out == f"a warm server is already running for this code (pid {pid})\n"
    assert app.ok("warm", "--stop", env=warm.env).out == f"stopped the warm server (pid {pid})\n"
    wait_until(lambda: gone(pid), 10)
    assert warm.status() == "no warm server for this code: commands start cold\n"
    assert app.ok("warm", "--stop", env=warm.env).out == "no warm server was running\n"

    warm.start("--idle", "0.02")  # 1.2 s
    pid = warm.pid()
    assert pid is not None
    wait_until(lambda: gone(pid), 30)
    assert list(warm.sockets.glob("*.sock")) == []
    bad = app.run("warm", "--idle", "0", env=warm.env)
    assert bad.code == 1 and len(bad.err.splitlines()) == 1 and "--idle" in bad.err


def test_stop_lets_the_commands_running_finish(app: Project, warm: Warm) -> None:
    warm.start()
    pid = warm.pid()
    assert pid is not None
    proc, terminal, _ = at_prompt(app, warm.env)  # a deploy waiting at its question
    stopped = app.ok("warm", "--stop", env=warm.env).out
    assert (
        stopped == f"stopped the warm server (pid {pid}); the 1 command(s) it runs finish first\n"
    )
    assert warm.status() == "no warm server for this code: commands start cold\n"
    assert not gone(pid)
    os.write(terminal, b"n\n")
    assert proc.wait(timeout=60) == 1  # the deploy's own answer, passed on by the server
    assert "not deployed: cancelled at the prompt" in strip(read_all(terminal))
    wait_until(lambda: gone(pid), 10)


def test_commands_at_once_each_get_their_own_child(app: Project, warm: Warm) -> None:
    warm.start()
    served = warm.served()
    cold = app.run("history", "stage")
    procs = [
        subprocess.Popen(
            [SHIPYARD, "history", "stage"],
            cwd=app.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "COLUMNS": "200", **warm.env},
        )
        for _ in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert (proc.returncode, out, err) == (cold.code, cold.out, cold.err)
    assert warm.served() == served + 4
