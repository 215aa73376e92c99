"""The warm server's child, forked for real: a command whose client left before it
learnt the child's pid never runs."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.cli import warm_child

HANDLED = (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@pytest.fixture
def server_handlers() -> Iterator[None]:
    """This process's signal handlers as the warm server's (``serve``), then back."""
    previous = {s: signal.getsignal(s) for s in HANDLED}
    for signum in HANDLED:
        signal.signal(signum, lambda *_: None)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@pytest.mark.usefixtures("server_handlers")
def test_a_child_whose_client_left_is_stopped_before_it_runs_the_command(
    tmp_path: Path,
) -> None:
    """The client sent its request, then left (Ctrl-C while it waited for the pid): the
    server cannot send the pid and stops the child at once. That stop, however early,
    ends the child; the server's own handler (which only wakes its loop up) must not
    swallow it and let a deploy run with nobody waiting for it."""
    ran = tmp_path / "ran"

    def command() -> None:
        time.sleep(2)  # the stop is sent long before this ends
        ran.write_text("the command ran")

    server = warm_child.Server(str(tmp_path / "warm.sock"), 60.0, command)
    ours, client = socket.socketpair()
    client.close()  # the client left
    selector = selectors.DefaultSelector()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fds = [os.open(os.devnull, os.O_RDWR) for _ in range(3)]
    request = {
        "env": {"PATH": os.environ.get("PATH", "")},
        "umask": 0o022,
        "cwd": str(tmp_path),
        "argv0": "shipyard",
        "args": ["deploy", "prod", "2024.09.01", "--yes"],
    }
    try:
        with pytest.raises(OSError):
            warm_child._fork(server, selector, listener, ours, request, fds)
        (pid,) = server.children
        _, status = os.waitpid(pid, 0)
    finally:
        for fd in fds:
            os.close(fd)
        selector.close()
        listener.close()
        ours.close()
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    assert not ran.exists()
