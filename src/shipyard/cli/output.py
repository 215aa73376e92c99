"""What the CLI shows: Rich tables, progress lines, confirmation, errors."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shipyard.core.builds import shown as status_text
from shipyard.core.tags import shown_ref
from shipyard.core.tickets import NOT_SEEN
from shipyard.errors import ShipyardError

if TYPE_CHECKING:
    from shipyard.services.deploy.planning import Plan
    from shipyard.services.records import Diff, EnvStatus, ReleaseView, Shown, TicketRecord
    from shipyard.services.views import BuildView
    from shipyard.store.models import Deployment, Ticket

STATE_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "cancelled": "dim",
    "rolled_back": "yellow",
    "queued": "cyan",
    "passed": "green",
    "running": "cyan",
    "pending": "dim",
    "waiting": "yellow",
    "skipped": "dim",
    "verified": "green",
    "rejected": "red",
    "merged": "yellow",
    "promoted": "blue",
    "healthy": "green",
    "unhealthy": "red",
    "stopped": "dim",
    "unknown": "yellow",
    NOT_SEEN: "yellow",
}


@cache
def console() -> Console:
    return Console(highlight=False)


@cache
def err_console() -> Console:
    return Console(stderr=True, highlight=False)


def error(message: str) -> None:
    err_console().print(f"[bold red]error:[/] [red]{escape(message)}[/]", soft_wrap=True)


def styled(value: str) -> str:
    style = STATE_STYLE.get(value) or STATE_STYLE.get(value.split(" ")[0], "")
    return f"[{style}]{escape(value)}[/]" if style else escape(value)


def when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at else "-"


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ShipyardError(f"--date must be YYYY-MM-DD, not {text!r}") from None


class RichReporter:
    """Progress lines for checks and rollouts, with a spinner while a check runs."""

    MARKS: ClassVar[dict[str, str]] = {
        "passed": "[green]✓[/]",
        "failed": "[red]✗[/]",
        "skipped": "[dim]-[/]",
    }

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._status: Any = None

    def _stop_spinner(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def step(self, message: str) -> None:
        self._stop_spinner()
        if not self.quiet:
            console().print(f"[cyan]→[/] {escape(message)}", soft_wrap=True)

    def warn(self, message: str) -> None:
        self._stop_spinner()
        err_console().print(f"[yellow]![/] {escape(message)}", soft_wrap=True)

    def check(self, build: str, name: str, state: str, detail: str = "") -> None:
        if self.quiet:
            return
        self._stop_spinner()
        if state == "running":
            if console().is_terminal:
                self._status = console().status(f"{build} {name} running…")
                self._status.start()
            return
        mark = self.MARKS.get(state, "")
        console().print(f"  {mark} {build} {escape(name)} {styled(state)} [dim]{escape(detail)}[/]")


def _table(*columns: str, title: str | None = None) -> Table:
    t = Table(
        title=title, title_justify="left", header_style="bold", show_edge=False, pad_edge=False
    )
    for c in columns:
        t.add_column(c, overflow="fold")  # a long name or tag wraps whole, never cut to "…"
    return t


def releases_table(rows: list[ReleaseView]) -> Table:
    t = _table("Release", "Commit", "State", "Runs on", "Cut by", "Cut at")
    for v in rows:
        r = v.release
        t.add_row(
            r.tag,
            r.sha[:7],
            "[green]latest[/]" if r.latest else "pre-release",
            ", ".join(v.environments) or "-",
            escape(r.created_by),
            when(r.created_at),
        )
    return t


def tickets_table(rows: Sequence[Ticket | TicketRecord]) -> Table:
    from shipyard.adapters.tracker import status_label

    t = _table("Ticket", "Status", "By", "When", "Note")
    for r in rows:
        t.add_row(
            r.key,
            styled(status_label(r.status, r.promoted_to)),
            escape(r.updated_by),
            when(r.updated_at),
            escape(r.reason or ""),
        )
    return t


def _changes_table(changes: list[Any], labels: dict[str, str], title: str | None = None) -> Table:
    t = _table("Change", "Title", "Author", "Tickets", title=title)
    for c in changes:
        num = f"#{c.pr}" if c.pr else c.sha[:7]
        tickets = ", ".join(f"{k} {styled(labels.get(k, NOT_SEEN))}" for k in c.tickets) or "-"
        t.add_row(num, escape(c.title), escape(c.author), tickets)
    return t


def print_diff(d: Diff) -> None:
    c = console()
    if d.source_commit is None:
        c.print(f"{d.source} runs nothing yet")
        return
    head = f"{d.target} ({(d.target_commit or 'nothing')[:7]}) → {d.source} ({d.source_commit[:7]})"
    if not d.changes:
        c.print(f"{head}: no changes; {d.target} already runs everything {d.source} runs")
        return
    n = len(d.changes)
    title = f"{head}: {n} change{'s' if n != 1 else ''}"
    c.print(_changes_table(d.changes, d.labels, title=title))
    if d.all_verified:
        c.print(f"[green]✓ every ticket is QA-verified ({len(d.tickets)})[/]")
    else:
        c.print(
            f"[red]✗ {len(d.unverified)} of {len(d.tickets)} tickets not verified: {', '.join(d.unverified)}[/]"
        )


def print_plan(p: Plan) -> None:
    c = console()
    target = shown_ref(p.ref, p.commit)
    c.print(
        f"[bold]deploy {escape(target)} to {p.environment}[/], tag {escape(p.tag)}; "
        f"now runs {escape(p.current_ref or 'nothing')}"
    )
    if getattr(p, "current_commit", None) == p.commit:
        c.print(f"  {p.environment} runs {p.short_sha} already: this deploys it again")
    if p.changes:
        n = len(p.changes)
        title = f"{n} change{'s' if n != 1 else ''}"
        c.print(_changes_table(p.changes, _labels(p.tickets), title=title))
    removed = getattr(p, "removed", None) or []
    if removed:
        n = len(removed)
        title = f"going back: takes out {n} change{'s' if n != 1 else ''}"
        c.print(_changes_table(removed, _labels(p.removed_tickets), title=title))
    for g in p.gates:
        mark = "[green]✓[/]" if g.ok else "[red]✗[/]"
        c.print(f"  {mark} {escape(g.name)}: {escape(g.detail)}")


def _labels(raw: dict[str, str]) -> dict[str, str]:
    from shipyard.adapters.tracker import status_label
    from shipyard.core.gates import shown_status

    return {k: shown_status(status_label(v)) for k, v in raw.items()}


def confirm_plan(p: Plan) -> None:
    print_plan(p)
    if not sys.stdin.isatty():
        raise ShipyardError("not asking without a terminal: pass --yes to deploy")
    import typer

    if not typer.confirm(f"Deploy {p.ref} to {p.environment}?", default=False):
        raise ShipyardError("not deployed: cancelled at the prompt")


def status_table(rows: list[EnvStatus]) -> Table:
    t = _table("Env", "Port", "Runs", "Commit", "Since", "By", "Health", "Waiting upstream")
    for r in rows:
        c = status_cells(r)
        t.add_row(r.name, str(r.port), c.runs, c.commit, c.since, c.by, c.health, c.waiting)
    return t


class StatusCells(NamedTuple):
    runs: str
    commit: str
    since: str
    by: str
    health: str
    waiting: str


def status_cells(r: EnvStatus) -> StatusCells:
    """One environment's status, as Rich markup, for the table and the narrow blocks
    (``cli.fitting``)."""
    d = r.deployment
    waiting = "-"
    if r.waiting is not None and r.waiting.count:
        n, u = r.waiting.count, len(r.waiting.unverified)
        waiting = f"{n} change{'s' if n != 1 else ''} on {r.upstream}" + (
            f", [red]{u} unverified[/]" if u else ""
        )
    elif r.waiting is not None:
        waiting = "up to date"
    runs = (d.tag if d.tag != d.ref else d.ref) if d else "-"
    if r.pinned:
        runs += " [yellow](pinned)[/]"
    if r.in_flight is not None:
        runs += f" [cyan]→ {escape(r.in_flight.ref)} {r.in_flight.state.replace('_', ' ')}[/]"
    health = styled(r.health) + (
        f" [dim]{escape(r.health_detail)}[/]" if r.health == "unhealthy" and r.health_detail else ""
    )
    if getattr(r, "failure", None) is not None:
        health = f"[red]{escape(r.health)}[/]"  # the detail follows the table
    if getattr(r, "stale_config", None):
        health += " [yellow]stale config[/]"  # the versions and the hint follow the table
    return StatusCells(
        runs,
        d.commit[:7] if d else "-",
        when(d.finished_at if d else None),
        escape(d.requested_by) if d else "-",
        health,
        waiting,
    )


def print_failures(rows: list[EnvStatus]) -> None:
    """Below the status table: each environment whose newest deployment failed, what
    failed, when and why, what serves instead, and where its instance's log is."""
    for r in rows:
        stale = getattr(r, "stale_config", None)
        if stale:
            console().print(
                f"[yellow]! {r.name}[/]: instances {stale}: shipyard restart {r.name}",
                soft_wrap=True,
            )
        f = getattr(r, "failure", None)
        if f is None:
            continue
        console().print(
            f"[red]✗ {r.name}[/]: deployment #{f.id} failed {when(f.finished_at)}: "
            f"{escape(r.health_detail.removeprefix('the last deploy, '))}",
            soft_wrap=True,
        )
        console().print(
            f"  its instance's log: shipyard logs {r.name} --commit {f.commit[:7]}", soft_wrap=True
        )


def history_table(env: str, rows: Sequence[Deployment | Shown], *, notes: bool = True) -> Table:
    """The deployments; ``notes=False`` leaves the Note column empty (to measure the rest)."""
    t = _table(
        "#",
        "Ref",
        "Tag",
        "Commit",
        "Kind",
        "State",
        "By",
        "When",
        "Note",
        title=f"deployments to {env}",
    )
    for d in rows:
        t.add_row(
            str(d.id),
            escape(d.ref),
            escape(d.tag),
            d.commit[:7],
            d.kind,
            styled(d.state),
            escape(d.requested_by),
            when(d.created_at),
            escape(d.error or d.reason or "") if notes else "",
        )
    return t


def builds_table(rows: list[BuildView]) -> Table:
    t = _table("Build", "Commit", "Title", "Status", "Checks", "Runs on")
    for v in rows:
        b = v.build
        checks = " ".join(f"{styled(c.status)}:{escape(c.name)}" for c in v.checks) or "-"
        state = status_text(b.status, getattr(v, "image", None))
        state += " (overtaken)" if b.superseded and not v.running_on else ""
        state += " (artifact collected)" if getattr(b, "artifact_collected_at", None) else ""
        failed_on = getattr(v, "failed_on", [])
        shown = styled(state) + (
            f"\n[red]deploy failed on {escape(', '.join(failed_on))}[/]" if failed_on else ""
        )
        t.add_row(
            f"#{b.id}",
            b.short_sha,
            escape(b.subject[:60]),
            shown,
            checks,
            ", ".join(v.running_on) or "-",
        )
    return t


def audit_table(rows: Sequence[Any]) -> Table:
    """Audit records (``AuditEvent`` rows, or the API's records), newest first."""
    t = _table("#", "When", "Who", "Action", "Subject", "Data")
    for e in rows:
        t.add_row(
            str(e.id), when(e.at), escape(e.actor), e.action, escape(e.subject), escape(e.data[:80])
        )
    return t
