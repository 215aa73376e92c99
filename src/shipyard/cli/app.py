"""The ``shipyard`` command line.

Every command works on the app whose ``shipyard.toml`` is in the current
directory or above it. A user's mistake or a refusal prints one red line and
exits non-zero, never with a traceback: 1 for a mistake or an error, 3 when a gate
refuses a deploy, 4 when a deployment the command started failed (the environment
keeps its previous version), 130 on Ctrl-C.

The commands live in ``commands_train``, ``commands_deploy``, ``commands_admin``
and ``commands_db``; this module registers them, in the order ``shipyard --help``
lists them, and runs the app.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer

from shipyard.cli import (
    commands_admin,
    commands_adopt,
    commands_approve,
    commands_config,
    commands_db,
    commands_deploy,
    commands_freeze,
    commands_gc,
    commands_plan,
    commands_reverts,
    commands_train,
    commands_users,
    commands_warm,
)
from shipyard.errors import ShipyardError

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
db_app = typer.Typer(help="The database schema (migrations).", no_args_is_help=True)
config_app = typer.Typer(
    cls=commands_config.ShowByDefault,
    help="An environment's variables and secrets: 'shipyard config ENV' lists them.",
    no_args_is_help=True,
)
grant_app = typer.Typer(help="Time-bound access to secret values.", no_args_is_help=True)
secrets_app = typer.Typer(help="The key that seals secrets.", no_args_is_help=True)
freeze_app = typer.Typer(
    help="Freezes: list those on now and coming; start and end one by hand.",
    invoke_without_command=True,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from shipyard import __version__

        typer.echo(f"shipyard {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    # ``shipyard --version`` alone is answered in ``shipyard.cli.main`` before this
    # module loads; the option lists it in --help and serves ``python -m shipyard``.
    """Run the release train: main -> stage -> pre-release -> QA -> 1-click deploy."""


app.add_typer(qa_app, name="qa")
app.add_typer(audit_app, name="audit")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(grant_app, name="grant")
app.add_typer(secrets_app, name="secrets")
app.add_typer(freeze_app, name="freeze")

# -- set-up
app.command()(commands_admin.init)
# -- the train
app.command()(commands_train.sync)
app.command()(commands_train.up)
app.command()(commands_train.down)
app.command()(commands_train.prerelease)
app.command()(commands_train.releases)
app.command()(commands_train.notes)
qa_app.command("verify")(commands_train.qa_verify)
qa_app.command("reject")(commands_train.qa_reject)
app.command()(commands_train.tickets)
# -- deploys
app.command()(commands_deploy.diff)
app.command()(commands_deploy.deploy)
app.command()(commands_approve.approve)
app.command()(commands_approve.cancel)
app.command()(commands_approve.deployments)
app.command()(commands_deploy.rollback)
app.command()(commands_plan.plan)
app.command()(commands_deploy.unpin)
app.command()(commands_deploy.restart)
app.command()(commands_adopt.adopt)
# -- when things go wrong
app.command()(commands_reverts.revert)
app.command()(commands_reverts.rerevert)
app.command()(commands_reverts.hotfix)
app.command()(commands_deploy.status)
app.command()(commands_deploy.history)
app.command()(commands_deploy.builds)
app.command()(commands_gc.rebuild)
app.command()(commands_gc.gc)
app.command()(commands_deploy.logs)
freeze_app.callback()(commands_freeze.freeze_list)
freeze_app.command("start")(commands_freeze.freeze_start)
freeze_app.command("end")(commands_freeze.freeze_end)
app.command()(commands_freeze.e2e)
# -- the server
audit_app.command("verify")(commands_admin.audit_verify)
audit_app.command("log")(commands_admin.audit_log)
app.command()(commands_admin.serve)
db_app.command("upgrade")(commands_db.db_upgrade)
user_app.command("add")(commands_users.user_add)
user_app.command("list")(commands_users.user_list)
user_app.command("disable")(commands_users.user_disable)
token_app.command("create")(commands_users.token_create)
token_app.command("revoke")(commands_users.token_revoke)
app.command()(commands_admin.demo)
app.command()(commands_warm.warm)
# -- variables and secrets
config_app.command("show")(commands_config.show)
config_app.command("set")(commands_config.set_)
config_app.command("unset")(commands_config.unset)
config_app.command("diff")(commands_config.diff)
config_app.command("approve")(commands_config.approve)
config_app.command("reject")(commands_config.reject)
config_app.command("get")(commands_config.get)
grant_app.command("request")(commands_config.grant_request)
grant_app.command("approve")(commands_config.grant_approve)
grant_app.command("reject")(commands_config.grant_reject)
grant_app.command("list")(commands_config.grant_list)
secrets_app.command("rotate-key")(commands_config.rotate_key)


def run(entry: Callable[[], None] | None = None) -> None:
    """Run the command in ``sys.argv``; ``entry`` is what runs a command from its start
    (``shipyard.cli.main.run_here``), for ``shipyard warm``'s server to run in its children."""
    try:
        code = app(prog_name="shipyard", obj={"entry": entry}, standalone_mode=False)
    except _CLICK_ERROR as exc:
        _command_line_error(exc)
    except typer.Abort:
        from shipyard.cli.output import error

        error("aborted")
        sys.exit(1)
    except ShipyardError as exc:
        from shipyard.cli.output import error

        error(exc.message)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        from shipyard.cli.output import error

        error("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


USAGE_EXIT = 2
"""The exit code of a command line that is wrong itself (as Click and argparse say it)."""

# Typer's own copy of Click's errors, found from the one it exports (their module is private).
_USAGE_ERROR: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_CLICK_ERROR: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _command_line_error(exc: Any) -> NoReturn:
    """A command line Typer could not take: one line and ``USAGE_EXIT`` (a group named
    alone, ``shipyard qa``: its help, as Click prints it)."""
    from shipyard.cli.output import error

    if type(exc).__name__ == "NoArgsIsHelpError":
        sys.stderr.write(exc.format_message().rstrip("\n") + "\n")
    elif isinstance(exc, _USAGE_ERROR):
        error(usage_line(exc))
    else:
        error(exc.format_message())
    sys.exit(USAGE_EXIT if isinstance(exc, _USAGE_ERROR) else exc.exit_code)


# Typer checks values with pydantic; its messages, as a person would say them.
_PLAIN = {
    "Input should be a valid integer, unable to parse string as an integer": "not a whole number",
    "Input should be a valid number, unable to parse string as a number": "not a number",
}


def usage_line(exc: Any) -> str:
    """Click's usage error as one line: what is wrong, then which ``--help`` to read."""
    message = " ".join(exc.format_message().split()).rstrip(".")
    for said, plain in _PLAIN.items():
        message = message.replace(said, plain)
    where = exc.ctx.command_path if exc.ctx is not None else "shipyard"
    return f"{message[:1].lower()}{message[1:]} (see '{where} --help')"
