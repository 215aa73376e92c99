"""The client half of the warm start: hand a command to ``shipyard warm``'s server.

``shipyard.cli.main`` calls ``run_warm`` before it imports anything else. With no
server (the usual case) it costs one ``lstat`` of the socket directory, or one
``listdir`` when the directory exists but is empty; the command then runs in this
process as it always did. With a server for exactly this code and interpreter, the
server forks a child that already has SQLAlchemy, the models, Rich and Typer loaded;
the child takes this process's arguments, working directory, environment, umask and
standard streams (the file descriptors themselves, so prompts and terminal detection
see the caller's terminal), and this process waits for its exit code, passing Ctrl-C
and other stop signals on to it.

Only the standard library, and only what the warm path needs, is imported here: the
cold path must stay as fast as before, and the warm one uses the C modules ``_socket``
and ``_signal`` (``socket`` and ``signal`` load ``enum`` and ``selectors``: 5 ms).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not ``typing``'s: this module is on every command's path
if TYPE_CHECKING:
    import _socket

MAGIC_RUN = b"SYW1"
MAGIC_STATUS = b"SYWQ"
MAGIC_STOP = b"SYWS"
HEADER = 8  # magic + payload length (4 bytes, big-endian)
# Variables beyond PYTHON* that change what an interpreter does at start-up: the locale
# sets the standard streams' encoding, TZ the time module's zone.
START_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
# Commands that always run in the caller's own process: ``warm`` itself, and the long-lived
# servers, which must stay in the caller's process tree, cgroup and limits (a systemd unit,
# a container, a shell's job control) rather than the warm server's.
COLD_ONLY = ("warm", "serve", "demo")


def socket_dir() -> str:
    """Where this user's warm servers listen: private to the user, checked before use."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "shipyard")
    return f"/tmp/shipyard-{os.getuid()}"


def unsafe(directory: str) -> str | None:
    """Why ``directory`` may not hold a socket (not ours, not a directory, open to
    others), or None when it is a private directory of this user."""
    import stat

    st = os.lstat(directory)
    if not stat.S_ISDIR(st.st_mode):
        return f"{directory} is not a directory"
    if st.st_uid != os.getuid():
        return f"{directory} belongs to uid {st.st_uid}, not to this user"
    if st.st_mode & 0o077:
        return f"{directory} is open to other users (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def fingerprint(package: str) -> tuple[int, int]:
    """(newest mtime in ns, count) of the package's ``.py`` files: it changes when the
    code is edited, upgraded, or a module is added or removed."""
    newest, count = 0, 0
    pending = [package]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    count += 1
                    newest = max(newest, entry.stat(follow_symlinks=False).st_mtime_ns)
                elif entry.name != "__pycache__" and entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
    return newest, count


def installed() -> list[int]:
    """When each directory on ``sys.path`` last changed: installing, upgrading or removing
    a distribution (SQLAlchemy, an adapter's entry points) changes its directory."""
    out = []
    for entry in sys.path:
        try:
            out.append(os.stat(entry or ".").st_mtime_ns)
        except OSError:
            out.append(0)
    return out


def key() -> str:
    """Names the server that runs exactly this code: interpreter, its path and flags,
    the start-up variables, what is installed, and the package's version and source
    fingerprint."""
    import zlib  # not hashlib: loading OpenSSL takes 6 ms, and this names, not secures

    from shipyard import __version__

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    start = sorted(
        (k, v) for k, v in os.environ.items() if k.startswith("PYTHON") or k in START_VARIABLES
    )
    parts = (
        sys.executable,
        sys.version,
        repr(sys.flags),
        repr(sorted(sys._xoptions.items())),
        repr(sys.path),
        repr(installed()),
        repr(start),
        __version__,
        repr(fingerprint(package)),
    )
    data = "\0".join(parts).encode()
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}{len(data):x}"


def socket_path(directory: str, name: str) -> str:
    return os.path.join(directory, f"warm-{name}.sock")


def run_warm(args: list[str]) -> int | None:
    """The exit code of ``shipyard ARGS`` run by a warm server, or None: no server for
    this code (or anything went wrong before the command started), run it here."""
    if (args and args[0] in COLD_ONLY) or os.environ.get("SHIPYARD_WARM") == "off":
        return None
    directory = socket_dir()
    try:
        if not os.listdir(directory):
            return None
        reason = unsafe(directory)
    except OSError:
        return None
    if reason is not None:
        sys.stderr.write(f"shipyard: not using the warm server: {reason}\n")
        return None
    import _socket

    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    except OSError:
        return None
    try:
        name = key()
        return _request(sock, socket_path(directory, name), name, args)
    except KeyboardInterrupt:  # before the child took Ctrl-C over; closing stops it
        sys.stderr.write("error: interrupted\n")
        return 130
    finally:
        sock.close()


def _request(sock: _socket.socket, path: str, name: str, args: list[str]) -> int | None:
    import marshal

    try:
        for fd in (0, 1, 2):
            os.fstat(fd)  # a closed standard stream cannot be passed on
        umask = os.umask(0o022)
        os.umask(umask)
        payload = marshal.dumps(
            {
                "argv0": sys.argv[0],
                "args": list(args),
                "cwd": os.getcwd(),
                "env": dict(os.environ),
                "umask": umask,
                "key": name,
            }
        )
        sock.settimeout(10)  # a server that takes no request in 10 s is not working
        sock.connect(path)
        message = MAGIC_RUN + len(payload).to_bytes(4, "big") + payload
        sent = sock.sendmsg([message], [_rights([0, 1, 2])])
        if sent < len(message):
            # What is left, if anything: a send that fails has sent nothing more, so the
            # server never read a whole request and started nothing. Never a send once
            # the whole request is out: the command may already have run and the server
            # closed the connection, and a failed send must not run it here again.
            sock.sendall(message[sent:])
    except OSError:
        return None
    # Sent: from here on the server may start the command, so this process never runs
    # it as well. It waits for the child's pid, or for the server to close without one
    # (it declined, nothing started): only then is the command run here.
    pid = _reply(sock, b"P")
    return None if pid is None else _follow(sock, pid)


def _rights(fds: list[int]) -> tuple[int, int, bytes]:
    import _socket
    import array

    return (_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", fds).tobytes())


def _follow(sock: _socket.socket, pid: int) -> int:
    """Wait for the child's exit code, passing stop signals on to it; as a shell does,
    a child killed by signal N exits 128 + N."""
    import _signal  # type: ignore[import-not-found]

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except OSError:  # already gone: its exit code is on the way
            return

    for name in FORWARDED:
        _signal.signal(getattr(_signal, name), forward)
    code = _reply(sock, b"X")
    if code is None:
        sys.stderr.write("shipyard: lost the warm server before the command ended\n")
        return 1
    return code if code >= 0 else 128 - code


def _reply(sock: _socket.socket, kind: bytes) -> int | None:
    """The number of the server's next reply if it is of ``kind`` (``P``: the child's
    pid, ``X``: its exit code, negative for a signal), else None (closed, or other)."""
    sock.settimeout(None)
    try:
        reply = _read(sock, 5)
    except OSError:
        return None
    if reply[:1] != kind:
        return None
    return int.from_bytes(reply[1:], "big", signed=True)


def _read(sock: _socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes, or fewer when the other end closed."""
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except InterruptedError:
            continue
        if not chunk:
            break
        data += chunk
    return data
