"""``shipyard demo``: the whole release train on a sample app, on this machine.

It builds a sample repository in a temporary folder, merges pull requests into
it the way GitHub does (merge commits and squash merges, one by a bot), and
walks the train with Shipyard's own services: stage follows main, a pre-release
is cut, QA verifies some tickets, a prod deploy is refused for the one left,
QA verifies it, and the deploy goes through. Stage and prod keep running;
``shipyard demo --stop`` stops them.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.panel import Panel

from shipyard.cli.output import console, print_diff, print_plan
from shipyard.config import load
from shipyard.demo.repo import DemoRepo
from shipyard.demo.running import RELEASER, Marker, demo_ports, get, start_server, stop_demo
from shipyard.errors import Refused, ShipyardError
from shipyard.services.context import Context, open_context

SAMPLE_APP = Path(__file__).parent / "sample_app" / "app.py"
QA = "qa@example.com"

CONFIG = """\
[app]
name = "monitor"
repo = "."
main = "main"
run = "{python} app.py"
health = "/__heartbeat__"
ticket_prefixes = ["MNTOR"]
exclude_authors = ["dependabot[bot]", "*-l10n*"]

[checks]
lint = "{python} -m py_compile app.py"
unit = "{python} -m unittest -q"

[environments.stage]
port = {stage}
auto = true

[environments.dev]
port = {dev}
accepts = '^[0-9a-f]{{7,12}}$'
tag = "dev-{{ref}}"
after = "stage"

[environments.prod]
port = {prod}
accepts = '^\\d{{4}}\\.\\d{{2}}\\.\\d{{2}}(\\.\\d+)?$'
tag = "prod-{{ref}}"
after = "stage"
require_qa = true
artifact_wait = 10
health_timeout = 20

[secrets]
key = {{ file = "{key_file}" }}
"""

UNIT_TEST = """\
import json
import unittest
from pathlib import Path


class FeaturesTest(unittest.TestCase):
    def test_features_file_is_valid_json(self):
        data = json.loads(Path("features.json").read_text())
        self.assertIsInstance(data, list)


if __name__ == "__main__":
    unittest.main()
"""


def _say(title: str) -> None:
    console().print()
    console().rule(f"[bold]{escape(title)}")


def _features(repo: DemoRepo, *names: str) -> dict[str, str]:
    current = json.loads((repo.path / "features.json").read_text())
    return {"features.json": json.dumps(current + list(names), indent=2) + "\n"}


def _secrets_key(where: Path) -> Path:
    """A key that seals the demo's secrets (``shipyard config set ENV NAME --secret``),
    beside the repository, never in it."""
    from shipyard.core.sealing import generate_key_line
    from shipyard.private import private_file

    path = private_file(where / "secrets.key")
    if not path.read_text().strip():
        path.write_text(generate_key_line() + "\n")
    return path


def build_sample(where: Path, ports: tuple[int, int, int]) -> DemoRepo:
    """The sample app's repository; ``ports`` are stage's, prod's and dev's."""
    repo = DemoRepo.create(where)
    python = sys.executable
    key_file = _secrets_key(where.parent)
    repo.commit(
        "Initial commit",
        {
            "app.py": SAMPLE_APP.read_text(),
            "test_app.py": UNIT_TEST,
            "features.json": "[]\n",
            "shipyard.toml": CONFIG.format(
                python=python, stage=ports[0], prod=ports[1], dev=ports[2], key_file=key_file
            ),
            ".gitignore": ".shipyard/\n__pycache__/\n",
        },
        author=("Ana Releaser", RELEASER),
    )
    return repo


def merge_prs(repo: DemoRepo, first: int) -> list[str]:
    """Merge four pull requests the way GitHub does; return their titles."""
    n = first
    repo.merge_pr(
        n,
        "MNTOR-101-breach-alerts",
        "Add breach alerts page (MNTOR-101)",
        [_features(repo, "breach alerts"), {"alerts.txt": "alerts\n"}],
        author=("Bo Dev", "bo@example.com"),
    )
    repo.squash_pr(
        n + 1,
        "Fix footer links on the email template MNTOR-102",
        _features(repo, "footer fix"),
        author=("Cy Dev", "cy@example.com"),
    )
    repo.squash_pr(
        n + 2,
        "Bump requests from 2.31.0 to 2.32.3",
        {"requirements.txt": "requests==2.32.3\n"},
        author=("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
    )
    repo.merge_pr(
        n + 3,
        "MNTOR-103-dashboard-filters",
        "Add dashboard filters (MNTOR-103)",
        [_features(repo, "dashboard filters")],
        author=("Di Dev", "di@example.com"),
    )
    return [
        f"#{n} breach alerts",
        f"#{n + 1} footer fix",
        f"#{n + 2} dependency bump",
        f"#{n + 3} filters",
    ]


def _context(repo: DemoRepo, actor: str) -> Context:
    from shipyard.cli.output import RichReporter

    return open_context(load(repo.path / "shipyard.toml"), reporter=RichReporter(), actor=actor)


def run_demo(where: Path | None = None) -> None:
    stop_demo(quiet=True)  # this user's earlier demo from this checkout, if one runs
    started = time.monotonic()
    base = Path(where) if where else Path(tempfile.mkdtemp(prefix="shipyard-demo-"))
    if (base / "monitor").exists():
        raise ShipyardError(
            f"{base / 'monitor'} exists already: pick another --where, or remove it"
        )
    dashboard_port, *ports = demo_ports()
    os.environ.setdefault("SHIPYARD_USER", RELEASER)
    c = console()
    c.print(
        Panel.fit(
            "[bold]Shipyard demo[/]: the release train on a sample app, on this machine",
            border_style="cyan",
        )
    )
    repo = build_sample(base / "monitor", (ports[0], ports[1], ports[2]))
    marker = Marker(
        repo=str(repo.path), remove=str(base if not where else repo.path), uid=os.getuid()
    )
    marker.save()
    c.print(f"sample repository: {repo.path}")

    ctx = _context(repo, RELEASER)
    try:
        _ride_the_train(ctx, repo, prod_port=ports[1])
    except ShipyardError as exc:
        c.print(f"[red]demo stopped: {escape(exc.message)}[/]")
        raise
    finally:
        ctx.close()
    dashboard, token = start_server(marker, dashboard_port)
    _farewell(repo.path, ports[0], ports[1], dashboard, token)
    c.print(f"[dim]demo took {time.monotonic() - started:.1f}s[/]")


def _ride_the_train(ctx: Context, repo: DemoRepo, *, prod_port: int) -> None:
    """Main to stage, the pre-release, QA, a refused prod deploy, then the one that goes."""
    from shipyard.services.status import status
    from shipyard.services.views import diff

    tag = _stage_and_prerelease(ctx, repo)

    _say("3. QA signs off two of three tickets")
    _qa_verifies(repo, ["MNTOR-101", "MNTOR-102"])
    print_diff(diff(ctx, "prod", "stage"))

    _say(f"4. deploy {tag} to prod: refused while a ticket is unverified")
    _deploy_to_prod(ctx, tag, refused=True)

    _say("5. QA verifies the last ticket; the 1-click deploy goes through")
    _qa_verifies(repo, ["MNTOR-103"])
    _deploy_to_prod(ctx, tag)
    served = json.loads(get(f"http://127.0.0.1:{prod_port}/__version__"))
    console().print(
        f"prod /__version__: commit {served.get('commit', '?')[:7]}, build {served.get('build')}"
    )

    _say("where things stand")
    for line in _standing(status(ctx)):
        console().print(line, highlight=False)


def _stage_and_prerelease(ctx: Context, repo: DemoRepo) -> str:
    """Stage follows main as pull requests merge; then the day's pre-release: its tag."""
    from shipyard.services.builds import sync
    from shipyard.services.releases import cut_prerelease

    c = console()
    _say("1. main → stage: every green build of main follows stage")
    sync(ctx)
    merge_prs(repo, 1)
    c.print("merged 4 pull requests: 2 merge commits, 2 squash merges (one by dependabot)")
    sync(ctx)

    _say("2. the daily pre-release")
    result = cut_prerelease(ctx)
    assert result.release is not None
    tag = result.release.tag
    c.print(f"[green]✓[/] {result.message}")
    c.print(
        Panel(
            escape(result.release.notes_markdown.strip()),
            title=f"notes of {tag}",
            border_style="dim",
        )
    )
    return tag


def _qa_verifies(repo: DemoRepo, keys: list[str]) -> None:
    """The QA person marks ``keys`` verified, in a context of their own."""
    from shipyard.adapters.tracker.builtin import VERIFIED

    qa = _context(repo, QA)
    qa.store.retrying(lambda s: qa.tracker.set_status(s, keys, VERIFIED, QA))
    qa.close()
    console().print(f"[green]✓[/] {', '.join(keys)} verified by {QA}")


def _deploy_to_prod(ctx: Context, tag: str, *, refused: bool = False) -> None:
    """Plan the deploy of ``tag`` to prod, show it, and run it; ``refused``: the gates are
    expected to refuse it, and the refusal is shown."""
    from shipyard.services.deploy import execution, planning

    c = console()
    p = planning.plan(ctx, "prod", tag)
    print_plan(p)
    if refused:
        try:
            execution.execute(ctx, p)
        except Refused as exc:
            c.print(f"[red]refused:[/] {escape(exc.message)}")
        return
    d = execution.execute(ctx, p)
    c.print(f"[green]✓[/] prod runs {tag}, tagged {d.tag}")


def _standing(rows: list[Any]) -> list[str]:
    """One short line per environment: what it runs, its health, what waits (fits 80 columns)."""
    out = []
    for r in rows:
        runs = r.deployment.ref if r.deployment else "nothing yet"
        waits = r.waiting.count if r.waiting else 0
        behind = (
            f"{waits} change{'s' if waits != 1 else ''} on {r.upstream}"
            if waits
            else f"up to date with {r.upstream}"
        )
        out.append(f"{r.name:<6} runs {runs[:16]:<16} {r.health:<9} {behind}"[:79])
    return out


def _farewell(repo: Path, stage: int, prod: int, dashboard: str | None, token: str | None) -> None:
    c = console()
    c.print()
    c.print(f"stage:     http://127.0.0.1:{stage}/")
    c.print(f"prod:      http://127.0.0.1:{prod}/")
    if dashboard:
        c.print(f"dashboard: {dashboard}")
        c.print("           log in with the admin token (shown once):")
        c.print(f"           {token}", soft_wrap=True, highlight=False)
    else:
        c.print(f"[yellow]the dashboard did not start; see {repo / '.shipyard' / 'serve.log'}[/]")
    me = _command_name()
    c.print(f"try:       cd {escape(str(repo))}", soft_wrap=True, highlight=False)
    c.print(f"           {escape(me)} status", soft_wrap=True, highlight=False)
    c.print(f"stop:      {escape(me)} demo --stop", soft_wrap=True, highlight=False)


def _command_name() -> str:
    """How to run this very ``shipyard`` from anywhere: its name when the PATH finds it,
    else its full path (``make demo`` runs ``.venv/bin/shipyard``, not on the PATH)."""
    import shutil

    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    found = shutil.which("shipyard")
    if script is None or script.name != "shipyard":
        return "shipyard" if found else f"{sys.executable} -m shipyard"
    if found is not None and Path(found).resolve() == script:
        return "shipyard"
    return str(script)
