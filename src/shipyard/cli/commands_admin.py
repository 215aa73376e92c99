"""Setting up and running Shipyard: config, server, audit, demo.

``shipyard init``, ``serve``, ``demo`` and ``shipyard audit verify|log``
(users and tokens: ``commands_users``); ``shipyard.cli.app`` registers them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.common import console, remote, session
from shipyard.errors import ShipyardError

if TYPE_CHECKING:
    from shipyard.adapters.git import GitRepo
    from shipyard.config import Settings
    from shipyard.store.db import Store


def init(
    name: Annotated[
        str | None, typer.Option(metavar="NAME", help="App name (default: the folder's name).")
    ] = None,
    run: Annotated[
        str, typer.Option(metavar="COMMAND", help="Command that starts the app with PORT set.")
    ] = "python3 app.py",
    prefix: Annotated[
        list[str] | None,
        typer.Option(metavar="PREFIX", help="Ticket key prefix, e.g. MNTOR (repeatable)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing shipyard.toml.")
    ] = False,
) -> None:
    """Write a commented shipyard.toml for the repository in this directory."""
    import re

    from shipyard.adapters.git import GitRepo
    from shipyard.config import CONFIG_NAME, load, render_template

    repo = GitRepo(Path.cwd())
    root = Path(repo.run("rev-parse", "--show-toplevel").strip())
    target = root / CONFIG_NAME
    if target.exists() and not force:
        raise ShipyardError(f"{target} exists already (use --force to overwrite)")
    app_name = name or re.sub(r"[^a-z0-9_-]+", "-", root.name.lower()).strip("-") or "app"
    text = render_template(
        name=app_name,
        run=run,
        prefixes=prefix or [],
        checks={},
        ports=_init_ports(),
        source=_github_source(repo),
    )
    target.write_text(text)
    load(target)  # what we write must load
    exclude = Path(repo.run("rev-parse", "--git-path", "info/exclude").strip())
    exclude = exclude if exclude.is_absolute() else root / exclude
    exclude.parent.mkdir(parents=True, exist_ok=True)
    if ".shipyard/" not in (exclude.read_text() if exclude.exists() else ""):
        with exclude.open("a") as f:
            f.write("\n.shipyard/\n")
    console().print(f"wrote {target}; next: 'shipyard sync'")


def _init_ports() -> dict[str, int]:
    """Free ports for stage, dev and prod: never the demo's, never one in use."""
    from shipyard.adapters.runtime.procs import free_ports
    from shipyard.demo import DEMO_PORTS

    stage, dev, prod = free_ports("127.0.0.1", 3, start=DEMO_PORTS[-1] + 1, avoid=DEMO_PORTS)
    return {"stage": stage, "dev": dev, "prod": prod}


def _github_source(repo: GitRepo) -> str | None:
    """``https://github.com/owner/name`` when the ``origin`` remote is on GitHub."""
    from shipyard.core.github import repository_name
    from shipyard.errors import GitError

    try:
        remote = repo.run("remote", "get-url", "origin").strip()
    except GitError:
        return None
    found = repository_name(remote) if "github.com" in remote else None
    return f"https://github.com/{found}" if found else None


def audit_verify() -> None:
    """Check the audit chain; name the first record that does not fit."""
    from shipyard.store.audit import verify

    if (server := remote()) is not None:
        from shipyard.store.audit import VerifyResult

        result = VerifyResult(**server.call("GET", "/api/v1/audit/verify"))
    else:
        with session() as ctx, ctx.store.read() as s:
            result = verify(s)
    if not result.ok:
        raise ShipyardError(
            f"audit chain broken at record #{result.bad_id}: {result.reason} "
            f"({result.count} records before it are intact)"
        )
    console().print(f"[green]✓[/] audit chain intact: {result.count} records")


def audit_log(
    limit: Annotated[int, typer.Option(metavar="N", help="How many to list.")] = 30,
) -> None:
    """The newest audit records."""
    from shipyard.cli.output import audit_table
    from shipyard.cli.reads import checked_limit

    limit = checked_limit(limit)
    if (server := remote()) is not None:
        from shipyard.cli.remote import ns

        rows = [
            ns(**{**e, "at": datetime.fromisoformat(e["at"])})
            for e in server.call("GET", "/api/v1/audit", params={"limit": limit})
        ]
    else:
        from shipyard.store.queries import newest_events

        with session() as ctx, ctx.store.read() as s:
            rows = newest_events(s, limit)
    console().print(audit_table(rows))


def serve(
    host: Annotated[
        str,
        typer.Option(
            metavar="HOST", envvar="SHIPYARD_HOST", help="Address to listen on (0.0.0.0: all)."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            metavar="PORT", envvar="SHIPYARD_PORT", min=1, max=65535, help="Port to listen on."
        ),
    ] = 8100,
    no_schedule: Annotated[
        bool, typer.Option("--no-schedule", help="Do not run the daily pre-release and polling.")
    ] = False,
    first_admin: Annotated[
        bool,
        typer.Option(
            "--first-admin/--no-first-admin",
            envvar="SHIPYARD_FIRST_ADMIN",
            help="On an empty database, create the user 'admin' and print its token once "
            "(off where output goes to a log: add users with 'shipyard user add').",
        ),
    ] = True,
    workers: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            envvar="SHIPYARD_WORKERS",
            help="Worker processes answering requests on one address, 1-64 (default: "
            "[server] workers, else 1); the schedules run once, in the parent.",
        ),
    ] = None,
) -> None:
    """Run the server: dashboard, REST API, webhooks, and the schedules, for this app and
    those its [server] apps names."""
    import uvicorn

    from shipyard.config.serving import MAX_WORKERS
    from shipyard.web.app import create_app
    from shipyard.web.logs import configure
    from shipyard.web.serving import settle_heap

    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise ShipyardError(f"--workers must be 1 to {MAX_WORKERS}, not {workers}")
    settings, apps, store = _serving(first_admin, workers, host, port)
    workers = workers or settings.server.workers
    if workers > 1:
        from shipyard.web.serving import run_workers

        run_workers(apps, store, host=host, port=port, workers=workers, schedule=not no_schedule)
        return
    # The schedules start and stop with the app's lifespan: uvicorn re-raises the
    # stopping signal once it returns, so anything left for afterwards would be cut short.
    app = create_app(settings, store=store, apps=apps, schedule=not no_schedule)
    configure(scrubber=app.state.scrubber)  # the one the server adds approved secrets to
    settle_heap()
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


def _serving(
    first_admin: bool, workers: int | None, host: str, port: int
) -> tuple[Settings, list[Settings], Store]:
    """What ``serve`` needs before it listens: the apps, the database (its first admin),
    the stored secrets' key checked, and the log scrubbing them."""
    from shipyard.config import load
    from shipyard.services.envconfig import opened_secrets
    from shipyard.services.fleet import load_fleet
    from shipyard.services.secrets import scrubber_for
    from shipyard.services.users import bootstrap_admin
    from shipyard.store.db import open_store
    from shipyard.web.logs import configure

    settings = load()
    apps = load_fleet(settings)
    store = open_store(settings.database_url)
    stored = opened_secrets(store, apps)  # no key, no server: it could not start instances
    first = bootstrap_admin(store) if first_admin else None
    if first is not None:
        console().print(
            f"first start: created user 'admin'; its token (shown once): {first.token}",
            soft_wrap=True,
        )
    served = settings.app.name if len(apps) == 1 else f"{len(apps)} apps"
    n = workers or settings.server.workers
    by = f" ({n} workers)" if n > 1 else ""
    console().print(f"serving {served} on http://{host}:{port}/{by} (API: /api/v1, /openapi.json)")
    configure(scrubber=scrubber_for(apps, extra=stored))
    return settings, apps, store


def demo(
    stop: Annotated[bool, typer.Option("--stop", help="Stop what the demo started.")] = False,
    where: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Folder for the sample repository (default: a temp dir)."),
    ] = None,
) -> None:
    """Walk the whole release train on a sample app, on this machine, in under a minute."""
    if stop:
        from shipyard.demo.running import stop_demo

        stop_demo()
    else:
        from shipyard.demo.scenario import run_demo

        run_demo(where)
