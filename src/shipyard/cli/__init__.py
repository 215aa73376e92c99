"""The ``shipyard`` command."""


def main() -> None:
    from shipyard.cli.app import run

    run()
