"""Print docs/cli.md from the CLI itself, so the reference cannot drift from the code."""

from __future__ import annotations

import typer

from shipyard.cli.app import app


def walk(cmd, path: list[str], out: list[str]) -> None:  # type: ignore[no-untyped-def]
    ctx = typer.Context(cmd, info_name=" ".join(path), terminal_width=100, max_content_width=100)
    sub = getattr(cmd, "commands", None)
    if len(path) > 1:
        out.append(f"## `{' '.join(path)}`\n")
        out.append("```text")
        out.append(cmd.get_help(ctx).rstrip())
        out.append("```\n")
    if sub:
        for name in cmd.list_commands(ctx):
            walk(sub[name], [*path, name], out)


def render() -> str:
    out = [
        "# Command reference",
        "",
        "Generated from the CLI by `make docs` (`scripts/gen_cli_docs.py`); a test fails when it is stale.",
        "",
    ]
    walk(typer.main.get_command(app), ["shipyard"], out)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
