"""What every command needs: the local session, the remote server, the console.

Each opens lazily, inside the command that asks for it, so ``shipyard --help``
imports neither the database layer nor Rich.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from shipyard.cli.remote import Remote
    from shipyard.config import Settings
    from shipyard.services.context import Context


@contextmanager
def session(*, quiet: bool = False, settings: Settings | None = None) -> Iterator[Context]:
    """Load the config (unless given), open the store, and drain notifications on the way out."""
    from shipyard.cli.output import RichReporter
    from shipyard.config import load
    from shipyard.services.context import open_context
    from shipyard.services.deploy.recovery import recover
    from shipyard.services.status import subscribe

    subscribe()  # a deployment a command finishes updates the environments view
    settings = settings if settings is not None else load()
    ctx = open_context(settings, reporter=RichReporter(quiet=quiet))
    try:
        # A deploy whose command was killed is finished or failed before anything else.
        recover(ctx)
        from shipyard.services.envconfig import active_secrets

        ctx.scrubber.add(active_secrets(ctx))  # the stored secrets are never shown either
        yield ctx
    finally:
        ctx.close()


def remote() -> Remote | None:
    """The server to drive when ``SHIPYARD_URL`` is set, else None (work locally)."""
    from shipyard.cli.remote import Remote, remote_url

    url = remote_url()
    return Remote(url) if url else None


def console() -> Console:
    from shipyard.cli.output import console as c

    return c()
