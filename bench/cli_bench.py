"""The everyday commands on an app with 1,000 deployments, against ``python -c pass`` and ``git status``.

Builds once (cached under ``bench/.work/``) one app on a clone of ``gen_history.py``'s
history: 250 builds of main with 2 checks each, a release every fifth commit, the
tickets the commits name, and 1,000 deployments (600 to stage, 200 to dev, 200 of
releases to prod), written with ``env_load_seed``'s bulk rows. Then times, round by
round and alternating, each command as a subprocess in the app's directory with its
output to ``/dev/null``, and prints the median and minimum wall-clock time of each,
its median CPU time (user + system) and the ratio of its median to ``git status``'s
and ``python -c pass``'s. ``shipyard status (warm)`` is handed to a ``shipyard warm``
server the bench starts for the run (its own ``XDG_RUNTIME_DIR``; stopped at the end;
its CPU column counts the client only, not the server's child); every other command
finds no server::

    .venv/bin/python bench/cli_bench.py              # 15 rounds; --rounds N (max 100)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import env_load_seed as seed  # noqa: E402
from summary import record  # noqa: E402

LAYOUT_VERSION = 2  # bump when the seeded app changes
BUILDS = 250
DEPLOYMENTS = 1000
TARGETS = {"--version": 60.0}  # ms; every other command 150 ms
DEFAULT_TARGET = 150.0
SHIPYARD = str(Path(sys.executable).with_name("shipyard"))


def _positions(per: int) -> dict[str, list[int]]:
    # A release every fifth commit; the deployments themselves are written by _deployments.
    return {"stage": [per - 1], "dev": [per - 2], "prod": list(range(4, per, 5))}


def _deployments(rows: seed.Rows, count: int) -> None:
    """``count`` deployments over the app's builds: 3/5 stage, 1/5 dev, 1/5 prod (releases)."""
    builds = rows.builds
    releases = {r["sha"]: r["tag"] for r in rows.releases}
    rows.deployments.clear()
    current: dict[str, int] = {}
    latest_tag: str | None = None
    for n in range(count):
        j = n * len(builds) // count
        b, at = builds[j], builds[j]["finished_at"] + timedelta(seconds=n)
        # prod runs the newest release a fifth of the builds back (50 of 250); dev a 25th back
        latest_tag = releases.get(builds[max(0, j - len(builds) // 5)]["sha"], latest_tag)
        env = ("stage", "stage", "stage", "dev", "prod")[n % 5]
        if env == "dev":
            b = builds[max(0, j - len(builds) // 25)]
        if env == "prod" and latest_tag is None:
            env = "stage"
        env_id = seed.ENVS.index(env) + 1
        ref = latest_tag if env == "prod" else b["short_sha"]
        sha = (
            next(r["sha"] for r in rows.releases if r["tag"] == ref) if env == "prod" else b["sha"]
        )
        build_id = next(x["id"] for x in builds if x["sha"] == sha) if env == "prod" else b["id"]
        rows.deployments.append(
            dict(id=n + 1, app_id=1, environment_id=env_id, build_id=build_id, commit=sha,
                 ref=ref, tag={"stage": ref, "dev": f"dev-{ref}", "prod": f"prod-{ref}"}[env],
                 tag_created=True, kind="auto" if env == "stage" else "deploy",
                 state="succeeded", requested_by="ana@example.com", reason=None, error=None,
                 previous_deployment_id=current.get(env), owner=None, created_at=at,
                 updated_at=at, finished_at=at)
        )  # fmt: skip
        current[env] = n + 1
    for e in rows.environments:
        e["current_deployment_id"] = current[e["name"]]


def _readable(repo: Path) -> bool:
    """The cached clone still reads (its shared objects were not moved or removed)."""
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "-q", "HEAD^{commit}"],
                          capture_output=True, check=False)  # fmt: skip
    return done.returncode == 0


def build_app(cache: Path, builds: int = BUILDS, deployments: int = DEPLOYMENTS) -> dict[str, Any]:
    """The app's directory (cached): shipyard.toml, repo/, shipyard.db and meta.json."""
    work = cache / f"cli-v{LAYOUT_VERSION}-b{builds}-d{deployments}"
    meta = work / "meta.json"
    if meta.exists() and _readable(work / "repo"):
        return dict(json.loads(meta.read_text()), work=str(work))
    from shipyard.store.db import open_store

    shutil.rmtree(work, ignore_errors=True)  # meta.json is written last: a half-built app
    work.mkdir(parents=True)
    history = seed.make_repo(work, cache, builds + 1)
    url = f"sqlite:///{work / 'shipyard.db'}"
    seed.positions = _positions  # type: ignore[assignment]
    rows = seed.build_rows(history, 1, builds)
    _deployments(rows, deployments)
    store = open_store(url)
    seed.insert_rows(store, rows)
    seed.add_refs(history, rows)
    seed._git(history.path, "checkout", "--quiet", "bench/app0000")
    tags = [r["tag"] for r in rows.releases]
    info = {"counts": seed.count_rows(store), "first": tags[0], "last": tags[-1]}
    seed.write_configs(work, 1, history.path, url)
    seed.refresh_waiting(work / "shipyard.toml", store)
    store.engine.dispose()
    meta.write_text(json.dumps(info))
    return dict(info, work=str(work))


Command = tuple[str, list[str], str, str]  # label, argv, where, XDG_RUNTIME_DIR


def commands(app: dict[str, Any], compare: str | None, runtime: Path) -> list[Command]:
    """(label, argv, where, runtime dir) in the order they are printed; ``compare``'s rows
    after ours."""
    work, repo = app["work"], str(Path(app["work"]) / "repo")
    rng = f"{app['first']}..{app['last']}"
    forms = [["--version"], ["status"], ["releases"], ["tickets"], ["history", "prod"],
             ["diff", "prod", "stage"], ["notes", rng]]  # fmt: skip
    cold, warm = str(runtime / "cold"), str(runtime / "warm")
    out = [
        ("python -c pass", [sys.executable, "-c", "pass"], work, cold),
        ("git status", ["git", "status"], repo, cold),
    ]
    for form in forms:
        out.append((" ".join(["shipyard", *form]), [SHIPYARD, *form], work, cold))
        if form == ["status"]:
            out.append(("shipyard status (warm)", [SHIPYARD, *form], work, warm))
        if compare:
            out.append((" ".join(["compared:", *form]), [compare, *form], work, cold))
    return out


def _env(runtime: str) -> dict[str, str]:
    # As installed: bytecode caches written and read (the warm-up round writes them).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SHIPYARD_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    return dict(env, COLUMNS="120", NO_COLOR="1", XDG_RUNTIME_DIR=runtime)


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def time_one(argv: list[str], where: str, runtime: str) -> tuple[float, float]:
    """(wall, CPU) milliseconds of one run; the CPU time (user + system, of the command and
    its children) says less about the load of the machine than the wall time."""
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(argv, cwd=where, env=_env(runtime), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=60)  # fmt: skip
    took = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()}")
    return took, (_children_cpu() - cpu) * 1000


Times = dict[str, list[tuple[float, float]]]


def measure(cmds: list[Command], rounds: int) -> Times:
    times: Times = {label: [] for label, _, _, _ in cmds}
    for _label, argv, where, runtime in cmds:  # warm the page cache and check each works
        time_one(argv, where, runtime)
    for r in range(rounds):
        order = cmds if r % 2 == 0 else cmds[::-1]
        for label, argv, where, runtime in order:
            times[label].append(time_one(argv, where, runtime))
    return times


def warm_server(runtime: Path, where: str, start: bool) -> None:
    """Start (or stop) the bench's own warm server, in ``runtime/warm``."""
    argv = [SHIPYARD, "warm", "--idle", "10"] if start else [SHIPYARD, "warm", "--stop"]
    done = subprocess.run(argv, cwd=where, env=_env(str(runtime / "warm")), capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[1:])} failed: {done.stderr.strip()}")


def report(times: Times, rounds: int, app: dict[str, Any]) -> list[dict[str, Any]]:
    counts = app["counts"]
    print(
        f"app with {counts['deployments']} deployments, {counts['builds']} builds, "
        f"{counts['releases']} releases, {counts['tickets']} tickets; median of {rounds} rounds"
    )
    print(
        f"  {'command':<42}{'median':>9}{'min':>9}{'cpu':>9}{'vs git status':>15}{'vs python':>11}"
        "  target"
    )
    git = statistics.median(w for w, _ in times["git status"])
    py = statistics.median(w for w, _ in times["python -c pass"])
    out = []
    for label, runs in times.items():
        ts = [w for w, _ in runs]
        med, low, cpu = statistics.median(ts), min(ts), statistics.median(c for _, c in runs)
        target = "(anchor)"
        if label.split()[0] in ("shipyard", "compared:"):
            limit = TARGETS.get(label.split()[1], DEFAULT_TARGET)
            verdict = "OK" if med <= limit else "over"
            target = f"<= {limit:.0f} ms: {verdict}"
        print(
            f"  {label:<42}{med:>7.1f}ms{low:>7.1f}ms{cpu:>7.1f}ms{med / git:>14.1f}x"
            f"{med / py:>10.2f}x  {target}"
        )
        out.append(
            {"command": label, "median_ms": med, "min_ms": low, "cpu_ms": cpu, "target": target}
        )
        _record(label, med, py)
    return out


def _record(label: str, median: float, python: float) -> None:
    """One summary row per command (``bench/summary.py``), its median against ``python -c pass``."""
    if label.split()[0] not in ("shipyard", "compared:"):
        record("cli", label, median, "ms", ok=None)  # an anchor
        return
    limit = TARGETS.get(label.split()[1], DEFAULT_TARGET)
    record(
        "cli", label, median, "ms", anchor="python -c pass", anchor_value=python,
        ratio=median / python, target=f"<= {limit:.0f} ms", ok=median <= limit,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds (max 100)")
    parser.add_argument("--cache", type=Path, default=BENCH / ".work", help="where the app is kept")
    parser.add_argument("--builds", type=int, default=BUILDS, help="builds of main (10-1000)")
    parser.add_argument("--deployments", type=int, default=DEPLOYMENTS, help="(10-5000)")
    parser.add_argument(
        "--compare", metavar="SHIPYARD", help="another install's shipyard script, timed alongside"
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    rounds = max(1, min(args.rounds, 100))
    builds = max(10, min(args.builds, 1000))
    app = build_app(args.cache, builds, max(10, min(args.deployments, 5000)))
    runtime = Path(tempfile.mkdtemp(prefix="sy-cli-bench-"))  # short: a socket path is short
    (runtime / "cold").mkdir(mode=0o700)
    (runtime / "warm").mkdir(mode=0o700)
    warm_server(runtime, app["work"], start=True)
    try:
        times = measure(commands(app, args.compare, runtime), rounds)
    finally:
        warm_server(runtime, app["work"], start=False)
        shutil.rmtree(runtime, ignore_errors=True)
    rows = report(times, rounds, app)
    if args.json:
        print(json.dumps({"counts": app["counts"], "rounds": rounds, "rows": rows}))


if __name__ == "__main__":
    main()
