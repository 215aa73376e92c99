"""Time ``shipyard notes A..B`` against two ``git log`` anchors on a large history.

Builds (or reuses) the synthetic repository of ``gen_history.py``, writes a
``shipyard.toml`` into it, and times, as subprocesses in the repository with
output to /dev/null, alternating them so all see the same machine load:

- ``shipyard notes A..B`` (and the library call alone, ``python -c``);
- ``git log --first-parent --format=%H%x00%s%x00%b A..B``: git printing what the
  notes are made of, the target anchor: notes <= 2x this;
- ``git log --oneline A..B``: the earlier anchor, shown for comparison;
- ``shipyard notes A..B`` handed to a ``shipyard warm`` server the bench starts with its
  own ``XDG_RUNTIME_DIR`` (the cold rows use another, empty one): its CPU column is the
  client's and the server's child's (``/proc/PID/stat``'s cutime and cstime).

Reports the median and minimum of each and the ratios to both anchors, and records
the headline figures with ``summary.record``.

    .venv/bin/python bench/notes_bench.py            # 110k commits, 9 rounds
    .venv/bin/python bench/notes_bench.py --rounds 15 --commits 150000

Until ``shipyard notes`` exists, it times ``python -c`` calling
``shipyard.services.notes.render_range`` instead, and says so.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_history import Params, generate
from summary import record

import shipyard
from shipyard.core.tags import is_release_tag, release_sort_key

PREFIXES = ["MNTOR"]
EXCLUDE = ["dependabot[bot]", "*-l10n*"]
MIN_RANGE = 15_000
MAX_ROUNDS = 50
TARGET = 2.0
TARGET_FORMAT = "%H%x00%s%x00%b"
TARGET_ANCHOR = f"git log --first-parent --format={TARGET_FORMAT}"
TARGET_SHORT = "git log --first-parent --format=..."
ONELINE_ANCHOR = "git log --oneline"

CONFIG = f"""\
[app]
name = "bench"
run = "true"
ticket_prefixes = {PREFIXES!r}
exclude_authors = {EXCLUDE!r}

[environments.stage]
port = 18001
""".replace("'", '"')

FALLBACK = (
    "import sys; from shipyard.services.notes import render_range; "
    f"sys.stdout.write(render_range('.', sys.argv[1], prefixes={PREFIXES!r}, exclude_authors={EXCLUDE!r}))"
)


@dataclass
class Timing:
    label: str
    argv: list[str]
    runs: list[float]  # wall-clock seconds
    cpu: list[float]  # user + system seconds of the process and its children (git)
    env: dict[str, str] | None = None  # the environment it runs with (None: ours)
    server: int | None = None  # the warm server's pid whose children's CPU counts too

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def count(repo: Path, rng: str) -> int:
    return int(git(repo, "rev-list", "--count", rng))


def pick_range(repo: Path, at_least: int) -> tuple[str, str]:
    """The newest date tag B and the newest tag A with at least ``at_least`` commits in A..B."""
    tags = sorted((t for t in git(repo, "tag").split() if is_release_tag(t)), key=release_sort_key)
    until = tags[-1]
    lo, hi = 0, len(tags) - 2  # binary search on the tag index, counts shrink as it grows
    if count(repo, f"{tags[lo]}..{until}") < at_least:
        raise SystemExit(f"history too short for a {at_least}-commit range; use --commits")
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(repo, f"{tags[mid]}..{until}") >= at_least:
            lo = mid
        else:
            hi = mid - 1
    return tags[lo], until


def notes_commands(rng: str) -> list[tuple[str, list[str]]]:
    """What to time for the notes side: the real ``shipyard notes`` when it works, and
    always the library call alone (``python -c`` calling render_range), which shows
    how much of the time is the command line's own start-up."""
    library = [sys.executable, "-c", FALLBACK, rng]
    script = Path(sys.executable).with_name("shipyard")
    help_ok = (
        script.exists()
        and subprocess.run(
            [str(script), "notes", "--help"], capture_output=True, check=False
        ).returncode
        == 0
    )
    if not help_ok:
        return [("python -c render_range (fallback)", library)]
    return [("shipyard notes", [str(script), "notes", rng]), ("python -c render_range", library)]


def _children_cpu(server: int | None = None) -> float:
    """User + system seconds of the commands run and waited for, plus (``server``) those
    of the children a warm server ran and waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    if server is not None:
        fields = Path(f"/proc/{server}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return total


def run_once(t: Timing, cwd: Path) -> None:
    """Run ``t``'s command once, recording its wall-clock and CPU time."""
    cpu = _children_cpu(t.server)
    started = time.perf_counter()
    proc = subprocess.run(
        t.argv, cwd=cwd, env=t.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        check=False,
    )  # fmt: skip
    t.runs.append(time.perf_counter() - started)
    t.cpu.append(_children_cpu(t.server) - cpu)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(t.argv)} failed: {proc.stderr.decode().strip()}")


def warm_bytecode() -> None:
    """Write the bytecode cache of Shipyard's modules, as an installed package has it.

    An editable install run with ``PYTHONDONTWRITEBYTECODE`` set would otherwise
    compile every module it imports from source on every run (~50 ms of the notes
    command's start-up), which no real installation pays.
    """
    compileall.compile_dir(Path(shipyard.__file__).parent, quiet=1)


@dataclass
class Runtimes:
    """The environments of the cold runs (an empty socket directory: no warm server, not
    even the user's own) and of the warm ones, and the warm server's pid (None: none)."""

    cold: dict[str, str]
    warm: dict[str, str]
    server: int | None


def bench_range(repo: Path, since: str, until: str, rounds: int, rt: Runtimes) -> list[Timing]:
    """Timings of the notes commands (cold, then warm when a server runs), then of the
    two git log anchors (the target's first), over ``rounds`` alternating rounds."""
    rng = f"{since}..{until}"
    timings = [Timing(label, argv, [], [], rt.cold) for label, argv in notes_commands(rng)]
    if rt.server is not None and timings[0].label == "shipyard notes":
        warm = Timing("shipyard notes (warm)", timings[0].argv, [], [], rt.warm, rt.server)
        timings.insert(1, warm)
    fp_argv = ["git", "log", "--first-parent", f"--format={TARGET_FORMAT}", rng]
    timings.append(Timing(TARGET_ANCHOR, fp_argv, [], []))
    timings.append(Timing(ONELINE_ANCHOR, ["git", "log", "--oneline", rng], [], []))
    for t in timings:  # check each works, and warm the page cache
        check = subprocess.run(t.argv, cwd=repo, env=t.env, capture_output=True, check=False)
        if check.returncode != 0 or not check.stdout.strip():
            raise SystemExit(f"{' '.join(t.argv)} failed: {check.stderr.decode().strip()}")
    for i in range(rounds):
        for t in timings if i % 2 == 0 else timings[::-1]:
            run_once(t, repo)
    return timings


def _ratios(t: Timing, anchor: Timing) -> str:
    return f"{t.median / anchor.median:.2f}x/{t.best / anchor.best:.2f}x"


def report(title: str, scope: str, timings: list[Timing]) -> bool:
    """Print the table and record its figures; True if ``shipyard notes`` (the first
    notes command) meets the target against the first-parent anchor."""
    *notes, target, oneline = timings
    print(f"\n{title}")
    print(f"  {'command':<40} {'median':>7} {'min':>7} {'vs first-parent':>16} "
          f"{'vs oneline':>12} {'CPU med':>8} {'CPU ratio':>9}")  # fmt: skip
    for i, t in enumerate(timings):
        to_target = to_oneline = cpu_ratio = ""
        if i < len(notes):
            to_target, to_oneline = _ratios(t, target), _ratios(t, oneline)
            cpu_ratio = f"{t.cpu_median / target.cpu_median:.2f}x"
        label = TARGET_SHORT if t is target else t.label
        print(f"  {label:<40} {t.median * 1000:5.0f}ms {t.best * 1000:5.0f}ms {to_target:>16} "
              f"{to_oneline:>12} {t.cpu_median * 1000:6.0f}ms {cpu_ratio:>9}")  # fmt: skip
    head = notes[0]
    ratio = head.median / target.median
    ok = ratio <= TARGET
    print(f"  ({TARGET_SHORT} is {TARGET_ANCHOR}; ratios are median/min)")
    print(f"  target: {head.label} <= {TARGET:g}x {TARGET_SHORT}: "
          f"{ratio:.2f}x, {'OK' if ok else 'over target'}")  # fmt: skip
    _record(scope, head, target, oneline, ok)
    for t in notes[1:]:
        if t.server is not None:
            met = t.median / target.median <= TARGET
            print(f"  target: {t.label} <= {TARGET:g}x {TARGET_SHORT}: "
                  f"{t.median / target.median:.2f}x, {'OK' if met else 'over target'}")  # fmt: skip
            _record_warm(scope, t, target, met)
    return ok


def _record_warm(scope: str, warm: Timing, target: Timing, ok: bool) -> None:
    record(
        "notes", f"{warm.label}, {scope}", warm.median * 1000, "ms",
        anchor=TARGET_ANCHOR, anchor_value=target.median * 1000,
        ratio=warm.median / target.median,
        target=f"<= {TARGET:g}x git log --first-parent --format", ok=ok,
    )  # fmt: skip


def _record(scope: str, head: Timing, target: Timing, oneline: Timing, ok: bool) -> None:
    """The headline figures of one range for ``make bench``'s table."""
    for anchor in (target, oneline):
        record("notes", f"{anchor.label}, {scope}", anchor.median * 1000, "ms", ok=None)
    record(
        "notes", f"{head.label}, {scope}", head.median * 1000, "ms",
        anchor=TARGET_ANCHOR, anchor_value=target.median * 1000,
        ratio=head.median / target.median,
        target=f"<= {TARGET:g}x git log --first-parent --format", ok=ok,
    )  # fmt: skip
    record(
        "notes", f"{head.label} vs oneline, {scope}", head.median * 1000, "ms",
        anchor=ONELINE_ANCHOR, anchor_value=oneline.median * 1000,
        ratio=head.median / oneline.median, ok=None,
    )  # fmt: skip


def bench_both(repo: Path, rounds: int, rt: Runtimes, full: bool) -> bool:
    """The 15k range, then (``full``) the whole history; True if every target is met."""
    since, until = pick_range(repo, MIN_RANGE)
    n = count(repo, f"{since}..{until}")
    fp = int(git(repo, "rev-list", "--count", "--first-parent", f"{since}..{until}"))
    ok = report(f"range {since}..{until}: {n} commits, {fp} first-parent",
                f"{MIN_RANGE // 1000}k range", bench_range(repo, since, until, rounds, rt))  # fmt: skip
    if full:
        root = git(repo, "rev-list", "--max-parents=0", "main").split()[0]
        n = count(repo, f"{root}..main")
        ok &= report(f"full history {root[:10]}..main: {n} commits",
                     "full history", bench_range(repo, root, "main", rounds, rt))  # fmt: skip
    return ok


def _shipyard_env(runtime: Path) -> dict[str, str]:
    return {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}


def runtimes(repo: Path, work: Path, no_warm: bool) -> Runtimes:
    """Each its own socket directory; a warm server started in ``work/warm`` unless
    ``no_warm`` (or ``shipyard warm`` is missing)."""
    for name in ("cold", "warm"):
        (work / name).mkdir(mode=0o700)
    cold, warm = _shipyard_env(work / "cold"), _shipyard_env(work / "warm")
    script = Path(sys.executable).with_name("shipyard")
    if no_warm or not script.exists():
        return Runtimes(cold, warm, None)
    done = subprocess.run([str(script), "warm", "--idle", "10"], cwd=repo, env=warm,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    if done.returncode != 0 or "(pid " not in done.stdout:
        print(f"no warm rows: shipyard warm said {(done.stderr or done.stdout).strip()!r}")
        return Runtimes(cold, warm, None)
    return Runtimes(cold, warm, int(done.stdout.split("(pid ", 1)[1].split(")", 1)[0]))


def stop_warm(repo: Path, work: Path) -> None:
    script = Path(sys.executable).with_name("shipyard")
    if (work / "warm").exists() and any((work / "warm").iterdir()):
        subprocess.run([str(script), "warm", "--stop"], cwd=repo,
                       env=_shipyard_env(work / "warm"), capture_output=True, timeout=60)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=Params.commits)
    parser.add_argument("--seed", type=int, default=Params.seed)
    parser.add_argument("--rounds", type=int, default=9, help=f"1-{MAX_ROUNDS}")
    parser.add_argument("--no-commit-graph", action="store_true")
    parser.add_argument("--skip-full", action="store_true", help="only the 15k+ range")
    parser.add_argument("--no-warm", action="store_true", help="no shipyard warm rows")
    args = parser.parse_args()
    rounds = max(1, min(args.rounds, MAX_ROUNDS))

    params = Params(args.commits, args.seed, commit_graph=not args.no_commit_graph)
    repo = generate(params)
    (repo / "shipyard.toml").write_text(CONFIG)
    git(repo, "update-index", "--refresh")  # a clean status does not matter, but be tidy
    warm_bytecode()

    total = count(repo, "main")
    first_parent = int(git(repo, "rev-list", "--count", "--first-parent", "main"))
    print(f"repository: {repo}")
    print(f"  {total} commits, {first_parent} on main's first-parent chain, "
          f"{len(git(repo, 'tag').split())} tags; commit-graph: {params.commit_graph}")  # fmt: skip
    print(f"  {platform.python_implementation()} {platform.python_version()}, "
          f"{git(repo, 'version')}, {os.cpu_count()} CPUs, {rounds} rounds")  # fmt: skip

    work = Path(tempfile.mkdtemp(prefix="shipyard-notes-bench-"))
    try:
        rt = runtimes(repo, work, args.no_warm)
        ok = bench_both(repo, rounds, rt, full=not args.skip_full)
    finally:
        stop_warm(repo, work)
        shutil.rmtree(work, ignore_errors=True)
    # A missed target is a figure, not a failure: the summary table says it (make bench).
    print("every target met" if ok else "a target was missed (see above)")


if __name__ == "__main__":
    main()
