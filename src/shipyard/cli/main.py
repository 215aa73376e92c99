"""The ``shipyard`` command.

``shipyard --version`` and ``shipyard notes RANGE [--json]`` are answered without
loading the full command line (Typer and the database layer take longer to import
than git takes to list fifteen thousand commits); every other form, ``--help``
included, goes through the Typer application in ``shipyard.cli.app``.
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

    run()
