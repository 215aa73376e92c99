"""The warm client's checks, on real directories: the source fingerprint, the socket
directory's privacy, and the key naming a server."""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path

import pytest

from shipyard.cli import warm_client


def package(root: Path) -> Path:
    (root / "pkg" / "sub" / "__pycache__").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "sub" / "a.py").write_text("A = 1\n")
    (root / "pkg" / "sub" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"x")
    return root / "pkg"


def test_the_fingerprint_changes_when_a_module_is_edited_added_or_removed(tmp_path: Path) -> None:
    pkg = package(tmp_path)
    first = warm_client.fingerprint(str(pkg))
    assert first[1] == 2  # the two .py files, not the bytecode
    assert warm_client.fingerprint(str(pkg)) == first
    st = (pkg / "sub" / "a.py").stat()
    os.utime(pkg / "sub" / "a.py", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    edited = warm_client.fingerprint(str(pkg))
    assert edited[0] > first[0] and edited[1] == 2
    (pkg / "b.py").write_text("")
    os.utime(pkg / "b.py", ns=(0, 0))  # an old file copied in still counts
    assert warm_client.fingerprint(str(pkg))[1] == 3
    (pkg / "b.py").unlink()
    assert warm_client.fingerprint(str(pkg)) == edited


def test_only_a_private_directory_of_this_user_is_used(tmp_path: Path) -> None:
    d = tmp_path / "shipyard"
    d.mkdir(mode=0o700)
    d.chmod(0o700)
    assert warm_client.unsafe(str(d)) is None
    d.chmod(0o750)
    assert warm_client.unsafe(str(d)) == f"{d} is open to other users (mode 750)"
    d.chmod(0o700)
    if os.getuid() == 0:  # only root can give a directory away
        os.chown(d, 4242, -1)
        assert warm_client.unsafe(str(d)) == f"{d} belongs to uid 4242, not to this user"
    link = tmp_path / "link"
    link.symlink_to(d)
    assert warm_client.unsafe(str(link)) == f"{link} is not a directory"


def test_the_socket_directory_follows_xdg_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert warm_client.socket_dir() == "/run/user/1000/shipyard"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert warm_client.socket_dir() == f"/tmp/shipyard-{os.getuid()}"


def test_the_key_changes_with_the_start_up_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    before = warm_client.key()
    assert warm_client.key() == before
    monkeypatch.setenv("SHIPYARD_USER", "someone@example.com")  # not a start-up variable
    assert warm_client.key() == before
    monkeypatch.setenv("PYTHONWARMTEST", "1")
    assert warm_client.key() != before
    monkeypatch.delenv("PYTHONWARMTEST")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert warm_client.key() != before


def test_no_server_means_the_command_runs_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert warm_client.run_warm(["status"]) is None  # no directory
    (tmp_path / "shipyard").mkdir(mode=0o700)
    assert warm_client.run_warm(["status"]) is None  # empty
    (tmp_path / "shipyard" / f"warm-{warm_client.key()}.sock").write_text("")
    assert warm_client.run_warm(["status"]) is None  # not a socket: connect fails
    assert warm_client.run_warm(["warm", "--status"]) is None  # always here
    assert os.listdir(tmp_path / "shipyard") == [f"warm-{warm_client.key()}.sock"]


def test_a_command_that_ended_before_the_request_returned_runs_only_once(
    tmp_path: Path,
) -> None:
    """The whole request goes out in one ``sendmsg``; the server runs the command, it
    ends and the server closes the connection before the client is scheduled again. The
    client then waits for the answers already sent: it never sends again (a send to the
    closed connection fails) and never runs the command itself a second time."""
    path = str(tmp_path / "warm.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    closed = threading.Event()

    def serve() -> None:  # a server whose command takes no time at all
        conn, _ = listener.accept()
        with conn:
            data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
            while len(data) < warm_client.HEADER + int.from_bytes(data[4:8], "big"):
                data += conn.recv(1 << 16)
            for fd in fds:
                os.close(fd)
            conn.sendall(b"P" + (4242).to_bytes(4, "big") + b"X" + (3).to_bytes(4, "big"))
        closed.set()

    class Descheduled:
        """The client's socket, its ``sendmsg`` returning only once the server is done."""

        def __init__(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.again: list[bytes] = []

        def __getattr__(self, name: str) -> object:
            return getattr(self.sock, name)

        def sendmsg(self, *args: object) -> int:
            sent = self.sock.sendmsg(*args)  # type: ignore[arg-type]
            assert closed.wait(10)
            return sent

        def sendall(self, data: bytes) -> None:
            self.again.append(bytes(data))
            self.sock.sendall(data)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    stops = {
        s: signal.getsignal(s)
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
    }
    client = Descheduled()
    try:
        code = warm_client._request(client, path, "key", ["status"])  # type: ignore[arg-type]
    finally:
        for signum, handler in stops.items():  # the client forwards them while it waits
            signal.signal(signum, handler)
        client.sock.close()
        listener.close()
    server.join(10)
    assert code == 3  # the command's own exit code: not None, which would run it here
    assert client.again == []
