"""The ``shipyard`` command line.

Every command works on the app whose ``shipyard.toml`` is in the current
directory or above it. A user's mistake or a refusal prints one red line and
exits non-zero (1, or 3 for a refused deploy); never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from shipyard.errors import Refused, ShipyardError

if TYPE_CHECKING:
    from rich.console import Console

    from shipyard.cli.remote import Remote
    from shipyard.services.context import Context

app = typer.Typer(
    name="shipyard",
    help="Run the release train: main -> stage -> pre-release -> QA -> 1-click deploy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
qa_app = typer.Typer(help="QA sign-off on tickets.", no_args_is_help=True)
user_app = typer.Typer(help="Users of the server and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (shown once, stored as hashes).", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(qa_app, name="qa")
app.add_typer(audit_app, name="audit")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


@contextmanager
def session(*, quiet: bool = False) -> Iterator[Context]:
    """Load the config, open the store, and drain notifications on the way out."""
    from shipyard.cli.output import RichReporter
    from shipyard.config import load
    from shipyard.services.context import open_context
    from shipyard.services.deploy import recover

    settings = load()
    ctx = open_context(settings, reporter=RichReporter(quiet=quiet))
    try:
        # A deploy whose command was killed is finished or failed before anything else.
        recover(ctx)
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


# -- set-up ---------------------------------------------------------------------------------------


@app.command()
def init(
    name: Annotated[
        str | None, typer.Option(metavar="NAME", help="App name (default: the folder's name).")
    ] = None,
    run: Annotated[
        str, typer.Option(metavar="COMMAND", help="Command that starts the app with PORT set.")
    ] = "python app.py",
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
    target.write_text(render_template(name=app_name, run=run, prefixes=prefix or [], checks={}))
    load(target)  # what we write must load
    exclude = Path(repo.run("rev-parse", "--git-path", "info/exclude").strip())
    exclude = exclude if exclude.is_absolute() else root / exclude
    exclude.parent.mkdir(parents=True, exist_ok=True)
    if ".shipyard/" not in (exclude.read_text() if exclude.exists() else ""):
        with exclude.open("a") as f:
            f.write("\n.shipyard/\n")
    console().print(f"wrote {target}; next: 'shipyard sync'")


# -- the train ------------------------------------------------------------------------------------


@app.command()
def sync(
    no_deploy: Annotated[
        bool, typer.Option("--no-deploy", help="Build only; do not move automatic environments.")
    ] = False,
) -> None:
    """Build new commits of main and move automatic environments to the newest green build."""
    from types import SimpleNamespace

    from shipyard.services.builds import sync as do_sync

    if (server := remote()) is not None:
        result: Any = SimpleNamespace(**server.call("POST", server.at("/sync"), timeout=3600))
    else:
        with session() as ctx:
            result = do_sync(ctx, deploy=not no_deploy)
    c = console()
    if not result.new_builds and not result.passed and not result.failed and not result.deployed:
        c.print("up to date: nothing new on main")
    for env, sha in result.deployed.items():
        c.print(f"[green]✓[/] {env} now runs {sha}")
    if result.failed:
        c.print(f"[red]✗[/] failed builds: {', '.join(result.failed)} (see 'shipyard builds')")


@app.command()
def up() -> None:
    """Bring every environment back at its recorded version (after a reboot, say)."""
    from shipyard.services.runtime import bring_up

    with session() as ctx:
        for line in bring_up(ctx):
            console().print(line)


@app.command()
def down() -> None:
    """Stop every environment's instances (their versions stay recorded)."""
    from shipyard.services.runtime import bring_down

    with session() as ctx:
        for line in bring_down(ctx):
            console().print(line)


@app.command()
def prerelease(
    date: Annotated[
        str | None,
        typer.Option("--date", metavar="YYYY-MM-DD", help="The day to name it after, YYYY-MM-DD."),
    ] = None,
) -> None:
    """Cut today's pre-release on what stage runs: tag YYYY.MM.DD (.N when taken)."""
    from shipyard.cli.output import parse_date
    from shipyard.services.releases import cut_prerelease

    on = parse_date(date) if date else None
    if (server := remote()) is not None:
        cut = server.call(
            "POST", server.at("/prereleases"), json={"date": on.isoformat() if on else None}
        )
        message, tag = cut["message"], cut["tag"]
        notes_md = server.releases(1)[0].release.notes_markdown if tag else ""
    else:
        with session() as ctx:
            result = cut_prerelease(ctx, on=on)
        message, tag = result.message, result.release.tag if result.release else None
        notes_md = result.release.notes_markdown if result.release else ""
    if tag is None:
        console().print(message)
        return
    console().print(f"[green]✓[/] {message}\n")
    console().print(notes_md, markup=False, highlight=False)


@app.command()
def releases(
    limit: Annotated[int, typer.Option(metavar="N", help="How many to list.")] = 30,
) -> None:
    """List releases: pre-release or latest, and where each one runs."""
    from shipyard.cli.output import releases_table
    from shipyard.services.releases import list_releases

    if (server := remote()) is not None:
        rows = server.releases(limit)
    else:
        with session() as ctx:
            rows = list_releases(ctx, limit)
    if not rows:
        console().print("no releases yet: 'shipyard prerelease' cuts one")
        return
    console().print(releases_table(rows))


@app.command()
def notes(
    range_: Annotated[
        str, typer.Argument(metavar="RANGE", help="A..B, or B for everything up to B.")
    ],
    json_: Annotated[bool, typer.Option("--json", help="JSON instead of Markdown.")] = False,
) -> None:
    """Print the release notes of a range of main as Markdown (or JSON)."""
    from shipyard.cli.notes import print_notes

    fmt: Literal["json", "markdown"] = "json" if json_ else "markdown"
    if (server := remote()) is not None:
        import json

        answer = server.call("GET", server.at("/notes"), params={"range": range_, "format": "json"})
        if fmt == "json":
            sys.stdout.write(json.dumps(answer, indent=2) + "\n")
        else:
            sys.stdout.write(
                server.text(server.at("/notes"), {"range": range_, "format": "markdown"})
            )
        return
    print_notes(range_, fmt)


@qa_app.command("verify")
def qa_verify(keys: Annotated[list[str], typer.Argument(metavar="KEY...")]) -> None:
    """Mark tickets as QA-verified."""
    from shipyard.adapters.tracker.builtin import VERIFIED

    if (server := remote()) is not None:
        done = [
            (t["key"], t["updated_by"])
            for t in server.call("POST", server.at("/tickets/verify"), json={"keys": keys})
        ]
    else:
        with session() as ctx:
            rows = ctx.store.retrying(
                lambda s: ctx.tracker.set_status(s, keys, VERIFIED, ctx.actor)
            )
        done = [(t.key, t.updated_by) for t in rows]
    for key, by in done:
        console().print(f"[green]✓[/] {key} verified by {by}")


@qa_app.command("reject")
def qa_reject(
    key: Annotated[str, typer.Argument(metavar="KEY")],
    reason: Annotated[str, typer.Option(metavar="TEXT", help="What is wrong (required).")],
) -> None:
    """Reject a ticket, saying why."""
    from shipyard.adapters.tracker.builtin import REJECTED

    if not reason.strip():
        raise ShipyardError("--reason must say what is wrong")
    if (server := remote()) is not None:
        by = server.call("POST", server.at(f"/tickets/{key}/reject"), json={"reason": reason})[
            "updated_by"
        ]
    else:
        with session() as ctx:
            (t,) = ctx.store.retrying(
                lambda s: ctx.tracker.set_status(s, [key], REJECTED, ctx.actor, reason=reason)
            )
        by = t.updated_by
    console().print(f"[red]✗[/] {key} rejected by {by}: {reason}")


@app.command()
def tickets(
    status: Annotated[
        str | None,
        typer.Option(metavar="STATUS", help="merged, verified, rejected or promoted."),
    ] = None,
) -> None:
    """List tickets and their QA status."""
    from shipyard.cli.output import tickets_table

    if (server := remote()) is not None:
        rows = server.tickets(status)
    else:
        with session() as ctx, ctx.store.read() as s:
            rows = ctx.tracker.list(s, status)
    if not rows:
        console().print("no tickets" + (f" with status {status}" if status else ""))
        return
    console().print(tickets_table(rows))


@app.command()
def diff(
    target: Annotated[str, typer.Argument(help="The environment to compare, e.g. prod.")],
    source: Annotated[str, typer.Argument(help="What it would catch up with, e.g. stage.")],
) -> None:
    """Show what SOURCE runs that TARGET does not: changes, tickets, QA status."""
    from shipyard.cli.output import print_diff
    from shipyard.services.views import diff as do_diff

    if (server := remote()) is not None:
        print_diff(server.diff(target, source))
        return
    with session() as ctx:
        print_diff(do_diff(ctx, target, source))


@app.command()
def deploy(
    environment: Annotated[str, typer.Argument(metavar="ENV")],
    ref: Annotated[
        str, typer.Argument(metavar="REF", help="A release tag (2024.09.01) or a short SHA.")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    allow_unverified: Annotated[
        bool,
        typer.Option(
            "--allow-unverified", help="Deploy despite unverified tickets (needs --reason)."
        ),
    ] = False,
    reason: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Why; recorded with the deployment.")
    ] = None,
    queue_timeout: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            help="Seconds to wait while the environment is busy (0: do not wait).",
        ),
    ] = 600.0,
) -> None:
    """The 1-click deploy: check every gate, tag ENV-REF, roll out, verify."""
    from shipyard.cli.output import confirm_plan, print_plan
    from shipyard.services import deploy as deploys

    if (server := remote()) is not None:
        body = {
            "environment": environment,
            "ref": ref,
            "allow_unverified": allow_unverified,
            "reason": reason,
            "queue_timeout": queue_timeout,
        }
        p = server.plan(body)
        if yes or p.refusal is not None:
            print_plan(p)
        else:
            confirm_plan(p)
        d = server.deploy(body)
    else:
        with session() as ctx:
            p = deploys.plan(
                ctx, environment, ref, allow_unverified=allow_unverified, reason=reason
            )
            if yes or p.refusal is not None:
                print_plan(p)
            else:
                confirm_plan(p)
            d = deploys.execute(ctx, p, queue_timeout=queue_timeout)
    console().print(
        f"[green]✓[/] {environment} runs {p.ref} ({p.short_sha}), tagged {d.tag}: deployment #{d.id}"
    )


@app.command()
def rollback(
    environment: Annotated[str, typer.Argument(metavar="ENV")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Redeploy ENV's previous successful deployment, and pin ENV there."""
    from types import SimpleNamespace

    from shipyard.cli.output import confirm_plan
    from shipyard.services import deploy as deploys

    if (server := remote()) is not None:
        if not yes:
            raise ShipyardError("a remote rollback needs --yes")
        d = server.rollback(environment)
        p: Any = SimpleNamespace(ref=d.ref, short_sha=d.commit[:7])
    else:
        with session() as ctx:
            p = deploys.rollback_plan(ctx, environment)
            if not yes:
                confirm_plan(p)
            d = deploys.execute(ctx, p)
    console().print(
        f"[green]✓[/] {environment} rolled back to {p.ref} ({p.short_sha}): deployment #{d.id}; "
        f"pinned until 'shipyard unpin {environment}'"
    )


@app.command()
def unpin(environment: Annotated[str, typer.Argument(metavar="ENV")]) -> None:
    """Let automation move ENV again after a rollback."""
    from shipyard.services.deploy import unpin as do_unpin

    if (server := remote()) is not None:
        changed = server.call("POST", server.at(f"/environments/{environment}/unpin"))["unpinned"]
    else:
        with session() as ctx:
            changed = do_unpin(ctx, environment)
    console().print(f"{environment} unpinned" if changed else f"{environment} was not pinned")


@app.command()
def status() -> None:
    """Per environment: what runs, since when, by whom, health, and what waits upstream."""
    from shipyard.cli.output import status_table
    from shipyard.services.views import status as do_status

    if (server := remote()) is not None:
        console().print(status_table(server.status()))
        return
    with session() as ctx:
        console().print(status_table(do_status(ctx)))


@app.command()
def history(
    environment: Annotated[str, typer.Argument(metavar="ENV")],
    limit: Annotated[int, typer.Option(metavar="N", help="How many to list.")] = 30,
) -> None:
    """List an environment's deployments, newest first."""
    from shipyard.cli.output import history_table
    from shipyard.services.views import history as do_history

    if (server := remote()) is not None:
        rows = server.history(environment, limit)
    else:
        with session() as ctx:
            rows = do_history(ctx, environment, limit)
    if not rows:
        console().print(f"no deployments to {environment} yet")
        return
    console().print(history_table(environment, rows))


@app.command()
def builds(limit: Annotated[int, typer.Option(metavar="N", help="How many to list.")] = 20) -> None:
    """Recent builds of main with their checks and where each runs."""
    from shipyard.cli.output import builds_table
    from shipyard.services.views import builds as do_builds

    if (server := remote()) is not None:
        rows = server.builds(limit)
    else:
        with session() as ctx:
            rows = do_builds(ctx, limit)
    if not rows:
        console().print("no builds yet: 'shipyard sync' reads main")
        return
    console().print(builds_table(rows))


@app.command()
def logs(
    ref: Annotated[str, typer.Argument(metavar="SHA")],
    check: Annotated[str, typer.Argument(metavar="CHECK")],
) -> None:
    """Print the log of one check of one build."""
    from shipyard.services.views import check_log

    with session() as ctx:
        c = check_log(ctx, ref, check)
    sys.stdout.write(c.log)


@audit_app.command("verify")
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


@audit_app.command("log")
def audit_log(
    limit: Annotated[int, typer.Option(metavar="N", help="How many to list.")] = 30,
) -> None:
    """The newest audit records."""
    from shipyard.cli.output import audit_table

    with session() as ctx:
        console().print(audit_table(ctx, limit))


@app.command()
def serve(
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on.")] = 8100,
    no_schedule: Annotated[
        bool, typer.Option("--no-schedule", help="Do not run the daily pre-release and polling.")
    ] = False,
) -> None:
    """Run the server: dashboard, REST API, webhooks, and the schedules, for this app and
    those its [server] apps names."""
    import uvicorn

    from shipyard.config import load
    from shipyard.services.fleet import load_fleet
    from shipyard.services.users import bootstrap_admin
    from shipyard.store.db import open_store
    from shipyard.web.app import create_app

    settings = load()
    apps = load_fleet(settings)
    store = open_store(settings.database_url)
    first = bootstrap_admin(store)
    if first is not None:
        console().print(
            f"first start: created user 'admin'; its token (shown once): {first.token}",
            soft_wrap=True,
        )
    served = settings.app.name if len(apps) == 1 else f"{len(apps)} apps"
    console().print(f"serving {served} on http://{host}:{port}/ (API: /api/v1, /openapi.json)")
    from shipyard.web.logs import configure

    configure()
    # The schedules start and stop with the app's lifespan: uvicorn re-raises the
    # stopping signal once it returns, so anything left for afterwards would be cut short.
    app = create_app(settings, store=store, apps=apps, schedule=not no_schedule)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    role: Annotated[
        str, typer.Option(metavar="ROLE", help="viewer, engineer, qa, releaser or admin.")
    ],
) -> None:
    """Add a user of the server."""
    from shipyard.services.users import add_user

    with session() as ctx:
        add_user(ctx.store, name, role, actor=ctx.actor)
    console().print(
        f"added {name} ({role}); 'shipyard token create --user {name}' gives them a token"
    )


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(metavar="NAME", help="Whose token.")],
    name: Annotated[str, typer.Option(metavar="LABEL", help="What the token is for.")] = "cli",
) -> None:
    """Create an API token; it is printed once and only its hash is kept."""
    from shipyard.services.users import create_token

    with session() as ctx:
        t = create_token(ctx.store, user, name, actor=ctx.actor)
    console().print(f"token for {t.user} ({t.name}), shown once:")
    sys.stdout.write(t.token + "\n")


@app.command()
def demo(
    stop: Annotated[bool, typer.Option("--stop", help="Stop what the demo started.")] = False,
    where: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Folder for the sample repository (default: a temp dir)."),
    ] = None,
) -> None:
    """Walk the whole release train on a sample app, on this machine, in under a minute."""
    from shipyard.demo.scenario import run_demo, stop_demo

    if stop:
        stop_demo()
    else:
        run_demo(where)


def run() -> None:
    try:
        app(prog_name="shipyard")
    except ShipyardError as exc:
        from shipyard.cli.output import error

        error(exc.message)
        sys.exit(3 if isinstance(exc, Refused) else 1)
    except KeyboardInterrupt:
        from shipyard.cli.output import error

        error("interrupted")
        sys.exit(130)
