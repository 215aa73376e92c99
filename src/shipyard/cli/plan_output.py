"""Printing a stage-fix plan (``shipyard plan ENV``) from its JSON form, local or remote."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from shipyard.cli.output import console


def _change(c: dict[str, Any]) -> str:
    keys = ", ".join(f"{k} ({v})" for k, v in c["tickets"].items())
    return f"{c['ref']} {escape(c['title'])}" + (f"  [dim]{escape(keys)}[/]" if keys else "")


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def print_fix_plan(d: dict[str, Any]) -> None:
    c = console()
    env, up = d["environment"], d["upstream"]
    running = d["running"]
    now = f"{running['ref']} ({running['commit'][:7]})" if running else "nothing"
    head = d["head"]
    listed = ", ".join(f"{k} ({v})" for k, v in d["unverified"].items())
    c.print(
        f"[bold]{env}[/] runs {escape(now)}; {up} runs {escape(head['ref'])} "
        f"({head['commit'][:7]}): {_n(d['changes'], 'change')}, "
        f"[red]unverified: {escape(listed)}[/]"
    )
    _print_earlier(d)
    _print_reverts(d)


def _print_earlier(d: dict[str, Any]) -> None:
    c, env, e = console(), d["environment"], d["earlier"]
    if e is None:
        c.print(
            f"\n(a) release an earlier commit: none that ran on {d['upstream']} is fully verified"
        )
        return
    what = f"release {e['release_tag']}" if e["release_tag"] else "a pre-release cut on it"
    c.print(
        f"\n(a) release {e['commit'][:7]}, the newest commit that ran on {d['upstream']} "
        f"with every ticket verified ({what}): brings {_n(len(e['brings']), 'change')}, "
        f"leaves {_n(len(e['leaves']), 'change')} behind:"
    )
    for ch in e["leaves"]:
        c.print(f"      {_change(ch)}")
    c.print(f"    [bold]shipyard plan {env} --release[/] (add --deploy to deploy it)")


def _print_reverts(d: dict[str, Any]) -> None:
    c, env, reverts = console(), d["environment"], d["reverts"]
    c.print(
        f"\n(b) revert {_n(len(reverts), 'change')} on top of {d['upstream']}'s "
        f"{d['head']['commit'][:7]}, leaving the rest:"
    )
    for r in reverts:
        note = (
            f"[red]conflicts in {escape(', '.join(r['conflicts']))}[/]"
            if r["conflicts"]
            else "[green]reverts cleanly[/]"
        )
        if r["overlaps"]:
            note += f"; later {escape(', '.join(r['overlaps']))} touch the same files"
        c.print(f"      {_change(r['change'])}: {note}")
    if d["reverts_apply"]:
        c.print(f"    [bold]shipyard plan {env} --revert[/] (makes the reverts on a branch)")
    else:
        c.print("    the reverts do not all apply: revert by hand, or take (a)")
