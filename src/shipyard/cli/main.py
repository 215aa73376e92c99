"""The ``shipyard`` command.

``shipyard --version``, ``shipyard notes RANGE [--json]`` and the plain forms of the
read-only everyday commands (``status``, ``history ENV [--limit N]``, ``diff A B``,
``releases [--limit N]``, ``tickets [--status S]``) are answered without loading the
full command line: Typer takes longer to import than git takes to list fifteen
thousand commits. So are ``deploy ENV REF --yes``, ``rollback ENV --reason R --yes``
and ``sync [--no-deploy]`` (``shipyard.cli.deploys.fast_command``), ``approve N
[--reason R]`` (``shipyard.cli.approvals``) and ``qa verify KEY...``
(``shipyard.cli.qa``). Every other form, ``--help`` included, goes through the Typer
application in ``shipyard.cli.app``.

Every command, once it is done (its database closed, its notifications delivered, its
output flushed), ends the process at once (``os._exit``): tearing the interpreter down
frees every module and object one by one, which with SQLAlchemy, pydantic and Typer
loaded costs a few hundred milliseconds, more than some commands take to run.

When ``shipyard warm`` runs a server for this code, ``main`` hands the command to it
first (``shipyard.cli.warm_client``): a child of the server, its imports already done,
runs ``run_here`` with this process's arguments, directory, environment and streams.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not ``typing``'s: ``--version`` imports nothing it does not need
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn


def main() -> None:
    """The console script: hand the command to a warm server when one runs for this code
    (``shipyard warm``), else run it here."""
    from shipyard.cli.warm_client import run_warm

    if (code := run_warm(sys.argv[1:])) is not None:
        _exit(code)
    run_here()


def run_here() -> None:
    """Run ``sys.argv``'s command in this process (a warm server's child runs this too)."""
    args = sys.argv[1:]
    if args in (["--version"], ["-V"]):
        from shipyard import __version__

        sys.stdout.write(f"shipyard {__version__}\n")
        return
    if (read := _fast_read(args)) is not None:
        import gc

        # Short-lived and acyclic enough: the cyclic collector would only rescan the
        # objects the imports made.
        gc.disable()
        _exit(_run_read(read))
    from shipyard.cli.app import run

    try:
        run(entry=run_here)
    except SystemExit as exc:
        _exit_now(exc.code)
    _exit_now(0)


def _fast_read(args: list[str]) -> Callable[[], None] | None:
    if args[:1] == ["notes"] and not os.environ.get("SHIPYARD_URL"):
        from shipyard.cli.notes import fast_args

        parsed = fast_args(args[1:])
        if parsed is None:
            return None
        from shipyard.cli.notes import run_fast

        return lambda: run_fast(*parsed)
    if args[:1] and args[0] in ("status", "history", "diff", "releases", "tickets"):
        from shipyard.cli.reads import fast_command

        return fast_command(args)
    if args[:1] == ["approve"]:  # ``approve N [--reason R]``
        from shipyard.cli.approvals import fast_command as fast_approve

        return fast_approve(args)
    if args[:2] == ["qa", "verify"]:  # ``qa verify KEY...``
        from shipyard.cli.qa import fast_command as fast_qa

        return fast_qa(args)
    if args[:1] and args[0] in ("deploy", "rollback", "sync"):
        # ``deploy ENV REF --yes [--reason R]``, ``rollback ENV --reason R --yes``, ``sync``
        from shipyard.cli.deploys import fast_command as fast_deploy

        return fast_deploy(args)
    return None


def _run_read(read: Callable[[], None]) -> int:
    """Run it as ``shipyard.cli.app.run`` runs a command: a mistake is one line and a code."""
    from shipyard.errors import ShipyardError

    try:
        read()
    except ShipyardError as exc:
        from shipyard.cli.output import error

        error(exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        from shipyard.cli.output import error

        error("interrupted")
        return 130
    except SystemExit as exc:  # ``notes`` says its own exit code
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def _exit(code: int) -> NoReturn:
    """Flush what was written, then leave without the interpreter's teardown."""
    import contextlib

    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (``| head``): as Python's own exit says
        code = 120
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(code)


def _exit_now(code: object) -> None:
    """End the process as ``sys.exit(code)`` would, without the interpreter's teardown:
    threads that must finish are waited for, buffered output is flushed first."""
    import logging
    import threading

    status = code if isinstance(code, int) else 0 if code is None else 1
    if status == 1 and not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            status = status or 1
    os._exit(status)
