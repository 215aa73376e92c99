"""Builds of a real-sized tree against ``git archive | tar -x`` of the same commit.

Generates (once, cached under ``bench/.work/``) a git repository whose tree holds
``--files`` files (~4 KB each, ~12 MB for 3,000) in ~30-file directories, a few of
them executable and a few relative symlinks, then ``--commits`` further commits
that each change five files. For every commit, oldest first, it times in the same
run and alternating:

- a Shipyard build of that commit (``services.build_run.run_build`` with one check,
  ``true``: the checks' folder brought to the commit (a build slot's, kept from the
  build before: only the changed files are written), the check, the artifact into the
  local store and the database rows), minus the check's own recorded duration;
- the anchor: ``git archive <sha> | tar -x`` into a fresh directory.

It prints the median of each (first build, into an empty store, apart), the
ratios, and the store's size: every file's bytes counted once per inode against
the unique bytes (each distinct blob of the built commits once, plus each build's
``version.json``). Bounded: at most 60 commits, one build each.

With ``--parallel N`` (default 2; 0: skip) it also times a sync that finds the newest
``--batch`` commits new (``services.builds.sync``, no deploy), each build with one check
that waits ``--check-wait`` seconds (a check waiting on a service or the network), with
``[checks] parallel = N`` against the same sync with ``parallel = 1`` as the anchor,
alternating, two rounds each, in fresh stores.

    .venv/bin/python bench/build_bench.py [--files 3000] [--commits 22] [--parallel 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from summary import record  # noqa: E402

from shipyard.config import parse  # noqa: E402
from shipyard.services.build_run import run_build  # noqa: E402
from shipyard.services.builds import record_new_builds, sync  # noqa: E402
from shipyard.services.context import Context, open_context  # noqa: E402
from shipyard.store.models import Check  # noqa: E402

WORK = ROOT / "bench" / ".work"
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "release",
    "train",
    "deploy",
    "build",
    "artifact",
    "stage",
    "prod",
    "check",
]
TARGET_TIME, TARGET_BYTES, TARGET_PARALLEL = 1.5, 1.2, 0.8
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_AUTHOR_DATE": "2024-09-01T12:00:00Z",
    "GIT_COMMITTER_DATE": "2024-09-01T12:00:00Z",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return done.stdout


def _content(rnd: random.Random, name: str, salt: int) -> str:
    size = rnd.randint(1000, 7000)
    lines = [f"# {name} {salt}"]
    while sum(len(x) + 1 for x in lines) < size:
        lines.append(" ".join(rnd.choice(WORDS) for _ in range(8)) + f" {rnd.random():.12f}")
    return "\n".join(lines) + "\n"


def make_repo(files: int, commits: int) -> Path:
    """The cached repository: main's first-parent chain is ``commits + 1`` commits."""
    repo = WORK / f"build-tree-f{files}-c{commits}"
    if (repo / ".git" / "shipyard-bench-done").exists():
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    rnd = random.Random(files * 1000 + commits)
    names = [f"src/pkg{i // 30:03d}/mod{i % 30:02d}.py" for i in range(files)]
    for i, name in enumerate(names):
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_content(rnd, name, 0))
        if i % 97 == 0:
            path.chmod(0o755)
    for i in range(0, files, files // 10 or 1):  # a few relative symlinks, inside the tree
        link = repo / f"links/link{i:04d}.py"
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(Path("..") / names[i])
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Initial tree")
    for c in range(1, commits + 1):
        for name in rnd.sample(names, 5):
            (repo / name).write_text(_content(rnd, name, c))
        git(repo, "commit", "-q", "-a", "-m", f"Change {c}")
    git(repo, "gc", "-q")
    (repo / ".git" / "shipyard-bench-done").write_text("")
    return repo


def unique_bytes(repo: Path, shas: list[str]) -> int:
    blobs: dict[str, int] = {}
    for sha in shas:
        for line in git(repo, "ls-tree", "-r", "-l", sha).splitlines():
            meta, _ = line.split("\t", 1)
            _, kind, oid, size = meta.split()
            if kind == "blob":
                blobs[oid] = int(size)
    return sum(blobs.values())


def store_bytes(root: Path) -> tuple[int, int]:
    """(bytes of every file, each inode once; disk blocks, folders included)."""
    seen: set[int] = set()
    once = blocks = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        blocks += os.lstat(dirpath).st_blocks * 512
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                once += st.st_size
                blocks += st.st_blocks * 512
    return once, blocks


def anchor(repo: Path, sha: str, scratch: Path) -> float:
    dest = scratch / f"archive-{sha[:7]}"
    dest.mkdir()
    started = time.perf_counter()
    subprocess.run(f"git -C '{repo}' archive {sha} | tar -x -C '{dest}'", shell=True, check=True)
    took = time.perf_counter() - started
    shutil.rmtree(dest)
    return took


def build(ctx: Context, repo: Path, sha: str) -> float:
    """Seconds of one build of ``sha`` (main moved to it), less its check's own duration."""
    git(repo, "update-ref", "refs/heads/main", sha)
    started = time.perf_counter()
    made = record_new_builds(ctx)
    assert len(made) == 1, made
    ok = run_build(ctx, made[0])
    took = time.perf_counter() - started
    assert ok, f"build of {sha[:7]} failed"
    with ctx.store.read() as s:
        checks = s.query(Check).filter(Check.build_id == made[0].id).all()
        took -= sum(c.duration or 0.0 for c in checks)
    return took


def run(files: int, commits: int) -> dict[str, Any]:
    cached = make_repo(files, commits)
    shas = git(cached, "rev-list", "--first-parent", "--reverse", "main").split()
    with tempfile.TemporaryDirectory(prefix="shipyard-buildbench-") as tmp:
        root = Path(tmp)
        repo = root / "app"
        subprocess.run(["git", "clone", "-q", "--shared", str(cached), str(repo)], check=True)
        git(repo, "update-ref", "refs/heads/main", shas[0])
        settings = parse(
            {
                "app": {"name": "tree", "run": "true", "repo": "app"},
                "environments": {"stage": {"port": 1, "auto": True}},
                "checks": {"noop": "true"},
                "state": {"dir": str(root / "state")},
            },
            root=root,
        )
        ctx = open_context(settings, actor="bench")
        builds, anchors = [], []
        try:
            for i, sha in enumerate(shas):
                if i % 2:  # alternate which goes first
                    builds.append(build(ctx, repo, sha))
                    anchors.append(anchor(repo, sha, root))
                else:
                    anchors.append(anchor(repo, sha, root))
                    builds.append(build(ctx, repo, sha))
        finally:
            ctx.close()
        artifacts = root / "state" / "artifacts"
        once, blocks = store_bytes(artifacts)
        versions = sum(p.stat().st_size for p in artifacts.glob("*/blobs/*/version.json"))
    unique = unique_bytes(cached, shas) + versions
    full = every_tree_bytes(cached, shas) + versions
    return summary(files, shas, builds, anchors, once, full, blocks, unique)


def batch_sync(cached: Path, shas: list[str], root: Path, workers: int, wait: float) -> float:
    """Seconds of one sync that builds the last ``len(shas) - 1`` of ``shas`` with
    ``[checks] parallel = workers``, in a fresh store (a first sync builds ``shas[0]``)."""
    where = Path(tempfile.mkdtemp(prefix=f"p{workers}-", dir=root))
    repo = where / "app"
    subprocess.run(["git", "clone", "-q", "--shared", str(cached), str(repo)], check=True)
    git(repo, "update-ref", "refs/heads/main", shas[0])
    settings = parse(
        {
            "app": {"name": "tree", "run": "true", "repo": "app"},
            "environments": {"stage": {"port": 1, "auto": True}},
            "checks": {"wait": f"sleep {wait:g}", "parallel": workers},
            "artifacts": {"gc": "manual"},
            "state": {"dir": str(where / "state")},
        },
        root=where,
    )
    ctx = open_context(settings, actor="bench")
    try:
        sync(ctx, deploy=False)
        git(repo, "update-ref", "refs/heads/main", shas[-1])
        started = time.perf_counter()
        done = sync(ctx, deploy=False)
        took = time.perf_counter() - started
        assert len(done.passed) == len(shas) - 1, done
    finally:
        ctx.close()
        shutil.rmtree(where, ignore_errors=True)
    return took


def parallel_figure(
    files: int, commits: int, workers: int, batch: int, wait: float
) -> dict[str, Any]:
    cached = make_repo(files, commits)
    shas = git(cached, "rev-list", "--first-parent", "--reverse", "main").split()[-(batch + 1) :]
    serial: list[float] = []
    parallel: list[float] = []
    with tempfile.TemporaryDirectory(prefix="shipyard-buildbench-p-") as tmp:
        for i in range(2):  # alternate which goes first
            order = [(1, serial), (workers, parallel)]
            for n, into in order if i % 2 == 0 else order[::-1]:
                into.append(batch_sync(cached, shas, Path(tmp), n, wait))
    s, p = statistics.median(serial), statistics.median(parallel)
    return {
        "workers": workers,
        "batch": len(shas) - 1,
        "check_wait_s": wait,
        "serial_s": s,
        "parallel_s": p,
        "parallel_ratio": p / s,
    }


def every_tree_bytes(repo: Path, shas: list[str]) -> int:
    """The bytes of every file of every built commit (what full copies would take)."""
    total = 0
    for sha in shas:
        for line in git(repo, "ls-tree", "-r", "-l", sha).splitlines():
            meta = line.split("\t", 1)[0].split()
            if meta[1] == "blob":
                total += int(meta[3])
    return total


def summary(
    files: int,
    shas: list[str],
    builds: list[float],
    anchors: list[float],
    once: int,
    every: int,
    blocks: int,
    unique: int,
) -> dict[str, Any]:
    later_b, later_a = statistics.median(builds[1:]), statistics.median(anchors[1:])
    return {
        "files": files,
        "builds": len(shas),
        "first_build_ms": builds[0] * 1000,
        "first_anchor_ms": anchors[0] * 1000,
        "build_ms": later_b * 1000,
        "anchor_ms": later_a * 1000,
        "ratio": later_b / later_a,
        "all_ratio": statistics.median(builds) / statistics.median(anchors),
        "first_ratio": builds[0] / anchors[0],
        "store_bytes": once,
        "full_copy_bytes": every,
        "disk_bytes": blocks,
        "unique_bytes": unique,
        "bytes_ratio": once / unique,
    }


def report(r: dict[str, Any]) -> None:
    mb = 1 << 20
    report_parallel(r)
    ok_t = "OK" if r["all_ratio"] <= TARGET_TIME else "over target"
    ok_b = "OK" if r["bytes_ratio"] <= TARGET_BYTES else "over target"
    print(
        f"{r['builds']} builds of a {r['files']}-file tree (one check, `true`, its time excluded)"
    )
    print("                                   build   git archive | tar -x   ratio")
    print(
        f"  first build (empty store)     {r['first_build_ms']:7.0f} ms   {r['first_anchor_ms']:7.0f} ms"
        f"            {r['first_ratio']:.2f}x"
    )
    print(
        f"  later builds, median          {r['build_ms']:7.0f} ms   {r['anchor_ms']:7.0f} ms"
        f"            {r['ratio']:.2f}x"
    )
    print(
        f"  all builds, ratio of medians  {r['all_ratio']:.2f}x  target <= {TARGET_TIME}x: {ok_t}"
    )
    print(
        f"store: {r['store_bytes'] / mb:.1f} MB of files (each inode once) for "
        f"{r['unique_bytes'] / mb:.1f} MB unique ({r['bytes_ratio']:.2f}x, target <= "
        f"{TARGET_BYTES}x: {ok_b}); full copies would be {r['full_copy_bytes'] / mb:.1f} MB; "
        f"disk blocks with directories {r['disk_bytes'] / mb:.1f} MB"
    )


def report_parallel(r: dict[str, Any]) -> None:
    if "parallel_ratio" not in r:
        return
    ok = "OK" if r["parallel_ratio"] <= TARGET_PARALLEL else "over target"
    print(
        f"a sync of {r['batch']} new commits (one check each, `sleep {r['check_wait_s']:g}`): "
        f"parallel = {r['workers']} {r['parallel_s']:.1f} s, parallel = 1 {r['serial_s']:.1f} s, "
        f"{r['parallel_ratio']:.2f}x (target <= {TARGET_PARALLEL}x: {ok})"
    )


def record_figures(r: dict[str, Any]) -> None:
    """The headline figures into ``bench/summary.py``'s table (``make bench``)."""
    record("build", "archive anchor, median", r["anchor_ms"], "ms", ok=None)
    record(
        "build",
        "build, median",
        r["build_ms"],
        "ms",
        anchor="git archive | tar -x",
        anchor_value=r["anchor_ms"],
        ratio=r["all_ratio"],
        target=f"<= {TARGET_TIME}x",
        ok=r["all_ratio"] <= TARGET_TIME,
    )
    mb = 1 << 20
    record("build", "unique bytes (anchor)", r["unique_bytes"] / mb, "MB", ok=None)
    record(
        "build",
        "store bytes",
        r["store_bytes"] / mb,
        "MB",
        anchor="unique bytes",
        anchor_value=r["unique_bytes"] / mb,
        ratio=r["bytes_ratio"],
        target=f"<= {TARGET_BYTES}x",
        ok=r["bytes_ratio"] <= TARGET_BYTES,
    )
    if "parallel_ratio" in r:
        record("build", "sync, parallel = 1 (anchor)", r["serial_s"], "s", ok=None)
        record(
            "build",
            f"sync of {r['batch']} commits, parallel = {r['workers']}",
            r["parallel_s"],
            "s",
            anchor="parallel = 1",
            anchor_value=r["serial_s"],
            ratio=r["parallel_ratio"],
            target=f"<= {TARGET_PARALLEL}x",
            ok=r["parallel_ratio"] <= TARGET_PARALLEL,
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=3000)
    p.add_argument("--commits", type=int, default=21, help="commits after the first (max 59)")
    p.add_argument("--parallel", type=int, default=2, help="builds at once (0: skip; max 8)")
    p.add_argument("--batch", type=int, default=6, help="commits one sync builds (max 20)")
    p.add_argument("--check-wait", type=float, default=0.5, help="seconds each check waits")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if not (10 <= a.files <= 20000 and 1 <= a.commits <= 59):
        p.error("--files must be 10..20000 and --commits 1..59")
    if not (
        0 <= a.parallel <= 8 and 1 <= a.batch <= min(20, a.commits) and 0 <= a.check_wait <= 10
    ):
        p.error("--parallel must be 0..8, --batch 1..20 (at most --commits), --check-wait 0..10")
    r = run(a.files, a.commits)
    if a.parallel:
        r.update(parallel_figure(a.files, a.commits, a.parallel, a.batch, a.check_wait))
    record_figures(r)
    if a.json:
        print(json.dumps(r))
    else:
        report(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
