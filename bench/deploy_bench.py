"""A local deploy's overhead beyond the app's own readiness.

Builds a sample app (``src/shipyard/demo/sample_app/app.py``) at two commits, deploys
the first to a local ``stage`` once (which starts the environment's proxy), then, round
by round, times:

- the anchor: the app's own readiness, the same ``run`` command (``sh -c "python
  app.py"``) started from a directory holding the app and its ``version.json``, from the
  spawn to the first 200 from ``/__heartbeat__`` (polled every millisecond);
- ``shipyard deploy stage SHA --yes`` (the console script, a subprocess, output to
  ``/dev/null``), alternating the two builds, wall time from start to exit: cold (no
  warm server: the command imports everything itself), then warm (handed to the
  ``shipyard warm`` server this bench starts, with its own ``XDG_RUNTIME_DIR``, for the
  run; stopped at the end).

It prints the median and minimum of each, the overhead (deploy minus readiness), the
ratio, and each deploy's mean CPU time (user + system of the command and the processes
it waited for; for the warm runs, of the client and of the server's child), which says
less about the load of the machine than the wall time. Target: the warm deploy's
overhead <= 150 ms; the cold one is reported beside it. Bounded: at most ``--rounds``
rounds (default 9, at most 50), every wait at most 60 s.

    .venv/bin/python bench/deploy_bench.py [--rounds N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shipyard.demo.repo import DemoRepo  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from summary import record  # noqa: E402

SAMPLE = ROOT / "src" / "shipyard" / "demo" / "sample_app" / "app.py"
SHIPYARD = str(Path(sys.executable).parent / "shipyard")
RUN = "python app.py"
TARGET_MS = 150.0
WAIT = 60.0
CONFIG = """\
[app]
name = "monitor"
run = "{run}"

[environments.stage]
port = {port}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(port: int) -> bool:
    """One GET /__heartbeat__ on a fresh connection: True on a 200."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"GET /__heartbeat__ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.0 200")
    except OSError:
        return False


def readiness(app_dir: Path, env: dict[str, str]) -> float:
    """Seconds from spawning the app to its first healthy answer."""
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["/bin/sh", "-c", RUN],
        cwd=app_dir,
        env={**env, "PORT": str(port)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + WAIT
        for _ in range(int(WAIT * 1000)):
            if healthy(port):
                return time.perf_counter() - started
            if proc.poll() is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.001)
        raise SystemExit(f"the sample app never answered on port {port}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=WAIT)


def cpu_seconds(server: int | None) -> float:
    """User + system time of the commands this process ran and waited for, plus (for the
    warm runs) that of the children the warm server ``server`` ran and waited for: each
    deploy's own CPU, whichever process ran it (the app's instances are in neither)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = used.ru_utime + used.ru_stime
    if server is not None:
        fields = Path(f"/proc/{server}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime
    return total


def deploy(repo: Path, sha: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [SHIPYARD, "deploy", "stage", sha, "--yes", "--reason", "bench"],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=WAIT,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"shipyard deploy stage {sha[:7]} failed: {done.stderr.strip()}")
    return seconds


def run(repo: Path, env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [SHIPYARD, *argv], cwd=repo, env=env, capture_output=True, text=True, timeout=WAIT
    )
    if done.returncode != 0:
        raise SystemExit(f"shipyard {' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def setup(work: Path, env: dict[str, str]) -> tuple[DemoRepo, list[str]]:
    """The app at two commits, both built, the first deployed (the proxy started)."""
    repo = DemoRepo.create(work / "monitor")
    config = CONFIG.format(run=RUN, port=free_port())
    author = ("Ana", "ana@example.com")
    files = {"app.py": SAMPLE.read_text(), "shipyard.toml": config, "n.txt": "0\n"}
    shas = [repo.commit("Initial commit", files, author=author)]
    run(repo.path, env, "sync")
    shas.append(repo.squash_pr(2, "Change one", {"n.txt": "1\n"}, author=author))
    run(repo.path, env, "sync")
    run(repo.path, env, "deploy", "stage", shas[0], "--yes")
    anchor = work / "anchor"
    anchor.mkdir()
    shutil.copy(SAMPLE, anchor / "app.py")
    (anchor / "version.json").write_text(json.dumps({"commit": shas[0], "version": "anchor"}))
    return repo, shas


def ms(values: list[float]) -> tuple[float, float]:
    return statistics.median(values) * 1000, min(values) * 1000


def report(
    ready: list[float],
    cold: list[float],
    warm: list[float],
    as_json: bool,
    cpu: tuple[list[float], list[float]],
) -> None:
    (r_med, r_min), (c_med, c_min), (w_med, w_min) = ms(ready), ms(cold), ms(warm)
    # The mean: the server's share is counted in clock ticks (10 ms), a sum is exact.
    c_cpu, w_cpu = (statistics.mean(c) * 1000 for c in cpu)
    summary = {
        "rounds": len(ready),
        "readiness_ms": round(r_med, 1),
        "deploy_ms": round(c_med, 1),
        "overhead_ms": round(c_med - r_med, 1),
        "ratio": round(c_med / r_med, 2),
        "warm_deploy_ms": round(w_med, 1),
        "warm_overhead_ms": round(w_med - r_med, 1),
        "warm_ratio": round(w_med / r_med, 2),
        "cpu_ms": round(c_cpu, 1),
        "warm_cpu_ms": round(w_cpu, 1),
        "target_ms": TARGET_MS,
    }
    _record(r_med, c_med, w_med)
    if as_json:
        print(json.dumps(summary))
        return
    print(f"local deploy of the sample app, alternating two builds, {len(ready)} rounds:")
    print(f"  {'':40}{'median':>9}{'min':>9}{'overhead':>10}{'ratio':>7}{'cpu (mean)':>12}")
    print(f"  {'app readiness (anchor)':40}{r_med:7.0f}ms{r_min:7.0f}ms")
    for label, med, low, used in (
        ("shipyard deploy stage SHA --yes (cold)", c_med, c_min, c_cpu),
        ("  the same, warm (shipyard warm)", w_med, w_min, w_cpu),
    ):
        print(
            f"  {label:40}{med:7.0f}ms{low:7.0f}ms{med - r_med:8.0f}ms{med / r_med:6.1f}x"
            f"{used:10.0f}ms"
        )
    verdict = "OK" if w_med - r_med <= TARGET_MS else "over target"
    print(f"  target: warm overhead <= {TARGET_MS:.0f} ms: {verdict}")


def _record(r_med: float, c_med: float, w_med: float) -> None:
    """The headline figures for ``make bench``'s table (``bench/summary.py``)."""
    anchor = "app readiness (sh -c 'python app.py' to first 200)"
    record("deploy_bench", anchor, r_med, "ms", ok=None)
    for how, median, target in (("cold", c_med, ""), ("warm", w_med, "overhead <= ")):
        overhead = median - r_med
        record(
            "deploy_bench",
            f"shipyard deploy stage SHA --yes, {how} (median; overhead {overhead:.0f} ms)",
            median,
            "ms",
            anchor=anchor,
            anchor_value=r_med,
            ratio=median / r_med,
            target=f"{target}{TARGET_MS:.0f} ms" if target else "",
            ok=overhead <= TARGET_MS if target else None,
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--json", action="store_true", help="print one JSON summary line")
    args = ap.parse_args()
    rounds = max(1, min(args.rounds, 50))
    work = Path(tempfile.mkdtemp(prefix="shipyard-deploy-bench-"))
    # As installed: bytecode caches written (the set-up's commands write them).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["SHIPYARD_USER"] = "bench@example.com"
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    # Each its own socket directory: the cold runs find no server, not even the user's.
    cold_env, warm_env = ({**env, "XDG_RUNTIME_DIR": str(work / d)} for d in ("cold", "warm"))
    (work / "cold").mkdir(mode=0o700)
    (work / "warm").mkdir(mode=0o700)
    ready: list[float] = []
    cold: list[float] = []
    warm: list[float] = []
    cpu: dict[int, list[float]] = {id(cold): [], id(warm): []}
    repo: DemoRepo | None = None
    try:
        repo, shas = setup(work, cold_env)
        said = run(repo.path, warm_env, "warm", "--idle", "10")
        server = int(said.split("(pid ", 1)[1].split(")", 1)[0])
        for _ in range(rounds):
            ready.append(readiness(work / "anchor", env))
            for runs, sha, where, whose in ((cold, 1, cold_env, None), (warm, 0, warm_env, server)):
                before = cpu_seconds(whose)
                runs.append(deploy(repo.path, shas[sha], where))
                cpu[id(runs)].append(cpu_seconds(whose) - before)
    finally:
        if repo is not None:
            run(repo.path, warm_env, "warm", "--stop")
            subprocess.run(
                [SHIPYARD, "down"], cwd=repo.path, env=cold_env, capture_output=True, timeout=WAIT
            )
        shutil.rmtree(work, ignore_errors=True)
    report(ready, cold, warm, args.json, (cpu[id(cold)], cpu[id(warm)]))


if __name__ == "__main__":
    main()
