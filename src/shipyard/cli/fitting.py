"""Tables that fit the terminal: where one is too wide (80 columns, or a pipe, where Rich
assumes 80), the same facts as a block per row, so that no tag, date or name is cut
short (``…``) and no column is squeezed to a letter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from shipyard.cli.output import (
    console,
    history_table,
    status_cells,
    status_table,
    styled,
    when,
)
from shipyard.core.tags import shown_ref

if TYPE_CHECKING:
    from collections.abc import Sequence

    from shipyard.services.records import Shown
    from shipyard.services.status import EnvStatus
    from shipyard.store.models import Deployment


NOTE_WIDTH = 20
"""What a table keeps for a free text column that wraps (a deployment's note)."""


def fits(table: Table, *, plus: int = 0) -> bool:
    """Whether ``table`` shows every cell whole in this terminal's width, with ``plus``
    columns more for a free text column measured apart."""
    c = console()
    return c.measure(table, options=c.options.update_width(10_000)).maximum + plus <= c.width


def print_status(rows: list[EnvStatus]) -> None:
    """The status table, or where the terminal is too narrow for it (80 columns, a pipe),
    the same facts as a block per environment: no tag, date or name cut short."""
    c = console()
    table = status_table(rows)
    if fits(table):
        c.print(table)
        return
    wide = max((len(r.name) for r in rows), default=0)
    for r in rows:
        cells = status_cells(r)
        runs = "nothing" if r.deployment is None else cells.runs
        if r.deployment is not None and not cells.runs.startswith(cells.commit):
            runs += f" ({cells.commit})"
        c.print(
            f"[bold]{r.name:<{wide}}[/] runs {runs} on port {r.port}: "
            f"{cells.health}; {cells.waiting}"
        )
        if r.deployment is not None:
            c.print(f"{'':<{wide}} since {cells.since} by {cells.by}")


def print_history(env: str, rows: Sequence[Deployment | Shown]) -> None:
    """The deployments table, or where it is too wide, two lines per deployment."""
    c = console()
    # The note wraps well in its column: only the other columns must fit whole.
    if fits(history_table(env, rows, notes=False), plus=3 + NOTE_WIDTH):
        c.print(history_table(env, rows))
        return
    c.print(f"deployments to {env}")
    for d in rows:
        ref = escape(shown_ref(d.ref, d.commit))
        c.print(f"#{d.id} {d.kind} {ref}, tag {escape(d.tag)}: {styled(d.state)}")
        c.print(f"  by {escape(d.requested_by)}, {when(d.created_at)}")
        if note := d.error or d.reason:
            c.print(f"  {'error' if d.error else 'reason'}: {escape(note)}")
