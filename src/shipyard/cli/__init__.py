"""The ``shipyard`` command line: the entry point is ``shipyard.cli.main:main``.

This package imports nothing itself, so a module under it can import a sibling
(``from shipyard.cli import output``) without loading the command line.
"""
