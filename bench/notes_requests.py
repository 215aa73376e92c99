"""Requests to GitHub for the notes of a 300-PR release, cold and warm.

Builds a repository whose ``main`` has 300 squash merges titled as Kafka's are
(``KAFKA-N: ...``, ``MINOR: ...``), serves the 300 PRs (with labels) from the GitHub
double of the tests (every request checked against @octokit/openapi's description),
and runs ``shipyard notes 2024.09.01..main --json`` as a subprocess twice with
``[forge] kind = "github"``: the first run on an empty database (cold), the second
on the database the first filled (warm). Prints the requests each run sent, its wall
time, and the share of changes left in "Other changes" with and without the labels.

    .venv/bin/python bench/notes_requests.py            # 300 PRs
    .venv/bin/python bench/notes_requests.py --prs 1000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "adapters"))
sys.path.insert(0, str(ROOT / "tests"))

from github.double import GitHubDouble  # noqa: E402
from summary import record  # noqa: E402

from gitfixtures import GitBuilder  # noqa: E402

TOKEN = "ghp_bench_token"
LABELS = [["type: bug"], ["type: feature"], ["dependencies"], ["type: feature", "docs"]]
FIRST = 1000


def title(i: int, n: int) -> str:
    return f"KAFKA-{n}: tune the fetcher" if i % 5 else "MINOR: tidy the docs"


def history(repo: GitBuilder, count: int) -> None:
    """``count`` squash merges in one ``git fast-import``."""
    parent = repo.head()
    lines: list[str] = []
    for i, n in enumerate(range(FIRST, FIRST + count)):
        message = f"{title(i, n)} (#{n})\n"
        when = 1_725_000_000 + 60 * (i + 1)
        lines += [
            "commit refs/heads/main",
            f"author Bob Roe <bob@example.com> {when} +0000",
            f"committer GitHub <noreply@github.com> {when} +0000",
            f"data {len(message.encode())}",
            message,
        ]
        if i == 0:
            lines.append(f"from {parent}")
    repo.git("fast-import", "--quiet", input="\n".join(lines) + "\n")
    repo.git("reset", "--quiet", "--hard", "main")


def config(api: str | None) -> str:
    text = (
        '[app]\nname = "kafka"\nrun = "true"\nticket_prefixes = ["KAFKA"]\n\n'
        "[environments.stage]\nport = 8399\n\n"
        '[notes]\ngroups = { "type: bug" = "Fixes", "type: feature" = "Features",'
        ' dependencies = "Dependencies" }\n'
    )
    if api:
        text += (
            f'\n[forge]\nkind = "github"\nrepository = "acme/kafka"\napi = "{api}"\n'
            'token = { env = "GITHUB_TOKEN" }\n'
        )
    return text


def notes(repo: Path, state: Path) -> tuple[dict[str, Any], float, str]:
    env = {**os.environ, "GITHUB_TOKEN": TOKEN, "SHIPYARD_STATE_DIR": str(state)}
    env.pop("SHIPYARD_DATABASE_URL", None)
    shipyard = Path(sys.executable).with_name("shipyard")
    start = time.perf_counter()
    proc = subprocess.run(
        [str(shipyard), "notes", "2024.09.01..main", "--json"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"shipyard notes failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout), took, proc.stderr.strip()


def other_share(doc: dict[str, Any]) -> float:
    other = sum(len(s["changes"]) for s in doc["sections"] if s["key"] == "other")
    return other / max(doc["count"], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prs", type=int, default=300, help="PRs in the release (max 5000)")
    args = parser.parse_args()
    count = max(1, min(args.prs, 5000))
    with (
        tempfile.TemporaryDirectory(prefix="notes-requests-") as tmp,
        GitHubDouble("acme/kafka", TOKEN) as gh,
    ):
        repo = GitBuilder.init(Path(tmp) / "kafka")
        repo.commit("Initial commit")
        repo.tag("2024.09.01")
        history(repo, count)
        for i, n in enumerate(range(FIRST, FIRST + count)):
            gh.add_pull(n, title(i, n), f"dev{n % 7}", LABELS[i % 4])
        state = Path(tmp) / "state"

        (repo.path / "shipyard.toml").write_text(config(None))
        plain, _, _ = notes(repo.path, state)
        (repo.path / "shipyard.toml").write_text(config(gh.url))
        cold, cold_s, _ = notes(repo.path, state)
        cold_requests = len(gh.requests)
        warm, warm_s, _ = notes(repo.path, state)
        warm_requests = len(gh.requests) - cold_requests
        if gh.violations:
            raise SystemExit(
                "requests GitHub's description does not allow:\n" + "\n".join(gh.violations)
            )
        if warm != cold:
            raise SystemExit("the warm notes differ from the cold ones")
    print(f'notes of {count} PRs (shipyard notes --json, [forge] kind = "github", GitHub double)')
    print(f"  cold (empty database): {cold_requests} requests, {cold_s:.2f} s")
    print(f"  warm (same database):  {warm_requests} requests, {warm_s:.2f} s")
    print(f"  'Other changes' share: {other_share(plain):.0%} without labels, "
          f"{other_share(cold):.0%} with [notes] groups by label")  # fmt: skip
    print(
        f"  requests checked against @octokit/openapi: {cold_requests + warm_requests}, violations 0"
    )
    record("notes_requests", f"GitHub requests, notes of {count} PRs, cold", cold_requests, "req")
    record(
        "notes_requests", "GitHub requests, same notes again (warm)", warm_requests, "req",
        target="0 requests when nothing changed", ok=warm_requests == 0,
    )  # fmt: skip


if __name__ == "__main__":
    main()
