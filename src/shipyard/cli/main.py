"""The ``shipyard`` command.

``shipyard --version`` and ``shipyard notes RANGE [--json]`` are answered without
loading the full command line (Typer and the database layer take longer to import
than git takes to list fifteen thousand commits); every other form, ``--help``
included, goes through the Typer application in ``shipyard.cli.app``.

Once a command is done (its database closed, its notifications delivered, its output
written), the process ends with ``os._exit``: tearing down the interpreter would only
free memory the kernel frees anyway, and with SQLAlchemy, pydantic and Typer loaded
that costs a few hundred milliseconds.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    args = sys.argv[1:]
    if args in (["--version"], ["-V"]):
        from shipyard import __version__

        sys.stdout.write(f"shipyard {__version__}\n")
        return
    if args[:1] == ["notes"] and not os.environ.get("SHIPYARD_URL"):
        from shipyard.cli.notes import fast_args

        parsed = fast_args(args[1:])
        if parsed is not None:
            from shipyard.cli.notes import run_fast

            run_fast(*parsed)
            return
    from shipyard.cli.app import run

    try:
        run()
    except SystemExit as exc:
        _exit_now(exc.code)
    _exit_now(0)


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
