"""Load on the environments API and pages of a server with 1,000 apps.

Seeds a database with ``--apps`` apps of 3 environments (stage, dev, prod) and
``--builds`` builds in all, with their checks, deployments, releases and
tickets (see ``env_load_seed.py``), starts ``shipyard serve --workers N`` on a loopback
port (for each N of ``--workers``, in turn: 1 and the number of cores by default),
logs in for a dashboard session, then loads from a second process
(``wrk`` when installed, else a Python client), each run after a warm-up:

- ``/healthz``, the anchor every other figure is divided by;
- ``GET /api/v1/apps/{app}/environments`` (a random app per request; target with
  several workers >= 1000 req/s);
- ``GET /apps/{app}``, the environments page (target p99 <= 50 ms);
- ``GET /apps?page={1..N}``, the all-apps overview, 50 apps a page (target p99 <= 50 ms).

Each server's headline figures go to ``bench/summary.py``'s ``record``.

Every run is bounded in time (``--duration``, at most 120 s) and in count
(``--max-requests``). Any non-2xx answer or socket error fails the run::

    .venv/bin/python bench/env_load.py [--apps 1000] [--builds 20000] [--duration 10]
        [--connections 4] [--warmup 30] [--loader auto|wrk|python] [--keep] [--json]
        [--workers 1,2]   # serve --workers N for each N, in turn
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
        [--profile DIR]   # py-spy (pip install py-spy) the server during each measured run
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import env_load_client as client
import httpx
from summary import record

ROOT = Path(__file__).resolve().parents[1]
SHIPYARD = str(Path(sys.executable).parent / "shipyard")
API_TARGET_RPS, PAGE_TARGET_P99_MS = 1000.0, 50.0


@dataclass
class Target:
    key: str
    path: str  # {app} and {page} are filled per request
    auth: str  # "none" | "token" | "cookie"


TARGETS = [
    Target("healthz", "/healthz", "none"),
    Target("api", "/api/v1/apps/{app}/environments", "token"),
    Target("page", "/apps/{app}", "cookie"),
    Target("overview", "/apps?page={page}", "cookie"),
]


@dataclass
class Result:
    key: str
    path: str
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    non2xx: int = 0
    socket_errors: int = 0
    warmup_requests: int = 0
    server_cpu_ms: float | None = None  # the server's CPU time per request
    server_cpu_share: float | None = None  # of one core, over the run
    failed: str = ""  # why the endpoint could not be loaded at all


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the server ------------------------------------------------------------------------------------


def start_server(
    work: Path, config: Path, url: str, port: int, workers: int = 1
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SHIPYARD_CONFIG": str(config), "SHIPYARD_DATABASE_URL": url,
           "SHIPYARD_USER": "bench@example.com"}  # fmt: skip
    with open(work / "server.log", "wb") as log:
        server = subprocess.Popen(
            [SHIPYARD, "serve", "--no-schedule", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    why = f"exited with {server.returncode}" if server.poll() is not None else "no 200 in 300 s"
    server.kill()
    log_text = (work / "server.log").read_text(errors="replace")[-3000:]
    raise SystemExit(f"the server did not answer /healthz ({why}):\n{log_text}")


def login(base: str, token: str) -> str:
    """A dashboard session cookie, through the login form as a browser gets one."""
    with httpx.Client(base_url=base, timeout=30) as http:
        form = http.get("/login", params={"next": "/apps"})
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if form.status_code != 200 or not found:
            raise LoginFailed(f"GET /login answered {form.status_code} without a csrf field")
        r = http.post("/login", data={"token": token, "csrf": found[1], "next": "/apps"})
        cookie = http.cookies.get("shipyard_session")
        if r.status_code != 303 or not cookie:
            raise LoginFailed(f"POST /login answered {r.status_code} without a session cookie")
        return f"shipyard_session={cookie}"


class LoginFailed(Exception):
    pass


def probe(base: str, path: str, headers: list[str]) -> str:
    """'' when one request to ``path`` answers 2xx, else what it answered."""
    hdrs = dict(h.split(": ", 1) for h in headers)
    try:
        r = httpx.get(base + path, headers=hdrs, timeout=60, follow_redirects=False)
    except httpx.HTTPError as exc:
        return f"GET {path} failed: {exc!r}"
    if 200 <= r.status_code < 300:
        return ""
    return f"GET {path} answered {r.status_code}: {r.text[:160]!r}"


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time so far (Linux) of a process and its children (the workers
    of ``serve --workers``), else None."""
    fields = _stat(pid)
    if fields is None:
        return None
    total = int(fields[11]) + int(fields[12])
    for entry in Path("/proc").iterdir():
        child = _stat(int(entry.name)) if entry.name.isdigit() else None
        if child is not None and child[1] == str(pid):  # its parent pid
            total += int(child[11]) + int(child[12])
    return total / os.sysconf("SC_CLK_TCK")


def measure(
    target: Target, spec: dict[str, Any], run: Any, pid: int, opts: Any, workers: int = 1
) -> Result:
    first = spec["path"].replace("{app}", "app0000").replace("{page}", "1")
    res = Result(target.key, target.path)
    res.failed = probe(spec["base"], first, spec["headers"])
    if res.failed:
        return res
    if opts.warmup:  # every app (or page) once, in turn: first-touch work is not measured
        # Always the Python client: it ends at the count, where wrk sleeps out its -d.
        once = spec["pages"] if "{page}" in spec["path"] else spec["apps"]
        got = client.run_python({**spec, "seconds": opts.warmup, "mode": "seq", "limit": once})
        res.warmup_requests = got["requests"]
    spy = None
    if opts.profile:  # sampled while the server holds the GIL: where its CPU goes
        spy = subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--gil",
             "--rate", "100", "--duration", str(spec["seconds"]), "--format", "raw",
             "--output", str(opts.profile / f"{target.key}-{workers}w.folded"), "--nonblocking",
             *(["--subprocesses"] if workers > 1 else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    cpu_before = cpu_seconds(pid)
    got = run(spec)
    cpu_after = cpu_seconds(pid)
    if spy is not None:
        spy.wait(timeout=spec["seconds"] + 60)
    res.requests, res.seconds = got["requests"], got["duration_us"] / 1e6
    res.rps = res.requests / res.seconds if res.seconds else 0.0
    res.p50_ms, res.p99_ms = got["p50_us"] / 1000, got["p99_us"] / 1000
    res.non2xx, res.socket_errors = got["non2xx"], got["socket_errors"]
    if cpu_before is not None and cpu_after is not None and res.requests:
        res.server_cpu_ms = (cpu_after - cpu_before) * 1000 / res.requests
        res.server_cpu_share = (cpu_after - cpu_before) / res.seconds
    if res.non2xx or res.socket_errors:
        res.failed = (
            f"{res.non2xx} non-2xx (first {got['first_bad']}), {res.socket_errors} socket errors"
        )
    return res


# -- reporting -------------------------------------------------------------------------------------


def verdict(r: Result, workers: int = 1) -> str:
    if r.key == "api":
        if workers == 1:
            return f"(one process; the target of >= {API_TARGET_RPS:.0f} req/s is for several)"
        ok, share = r.rps >= API_TARGET_RPS, r.rps / API_TARGET_RPS
        return (
            f">= {API_TARGET_RPS:.0f} req/s: {'OK' if ok else 'MISSED'} ({share:.2f}x the target)"
        )
    if r.key in ("page", "overview"):
        ok, share = r.p99_ms <= PAGE_TARGET_P99_MS, r.p99_ms / PAGE_TARGET_P99_MS
        return f"p99 <= {PAGE_TARGET_P99_MS:.0f} ms: {'OK' if ok else 'MISSED'} (p99 {share:.2f}x the limit)"
    return "(anchor)"


def report(results: list[Result], anchor: float, workers: int = 1) -> None:
    print(f"  shipyard serve --workers {workers}:")
    print(f"  {'endpoint':<34} {'req/s':>7} {'p50':>8} {'p99':>8} {'non-2xx':>7} {'vs healthz':>10}"
          f"  {'server CPU':>15}  target")  # fmt: skip
    for r in results:
        if r.failed and not r.requests:
            print(f"  {r.path:<34} FAILED: {r.failed}")
            continue
        ratio = f"{r.rps / anchor:.3f}x" if anchor else "-"
        cpu = "-"
        if r.server_cpu_ms is not None and r.server_cpu_share is not None:
            cpu = f"{r.server_cpu_ms:.2f}ms/req {r.server_cpu_share:.0%}"
        print(f"  {r.path:<34} {r.rps:>7.1f} {r.p50_ms:>6.1f}ms {r.p99_ms:>6.1f}ms {r.non2xx:>7}"
              f" {ratio:>10}  {cpu:>15}  {verdict(r, workers)}")  # fmt: skip
    print("  (server CPU: the server's user+system time per request, its workers' included, and"
          " its share of one core over the run)")  # fmt: skip


def _pg_database(admin_url: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, text

    name = f"shipyard_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name, admin_url.rsplit("/", 1)[0] + "/" + name


def _pg_drop(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--apps", type=int, default=1000)
    ap.add_argument(
        "--builds", type=int, default=20000, help="in all; --builds/--apps (>= 4) per app"
    )
    ap.add_argument("--duration", type=int, default=10, help="seconds per measured run (1-120)")
    ap.add_argument(
        "--warmup",
        type=int,
        default=30,
        help="at most this many seconds (0-60) of warm-up per "
        "endpoint, which requests every app (or overview page) once",
    )
    ap.add_argument("--connections", type=int, default=4, help="concurrent connections (1-64)")
    ap.add_argument("--max-requests", type=int, default=500_000, help="cap per run")
    ap.add_argument("--database-url", help="a PostgreSQL admin URL: a fresh database is made in it")
    ap.add_argument("--loader", choices=("auto", "wrk", "python"), default="auto")
    ap.add_argument(
        "--cache", type=Path, default=ROOT / "bench" / ".work", help="generated histories"
    )
    ap.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (and database)"
    )
    ap.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy each measured run into DIR/<run>.folded"
    )
    ap.add_argument("--json", action="store_true", help="print a JSON summary instead of the table")
    ap.add_argument(
        "--workers",
        default=f"1,{os.cpu_count() or 1}",
        help="serve --workers N for each server, in turn (comma-separated; default: 1 and the "
        "number of cores)",
    )
    args = ap.parse_args()
    try:
        args.workers = list(dict.fromkeys(int(n) for n in args.workers.split(",")))
    except ValueError:
        ap.error("--workers takes numbers, comma-separated: 1,2")
    if not all(1 <= n <= 64 for n in args.workers):
        ap.error("--workers 1-64")
    per = args.builds // max(args.apps, 1)
    if not 1 <= args.apps <= 9999 or per < 4:
        ap.error("need 1-9999 apps and at least 4 builds per app")
    if not (1 <= args.duration <= 120 and 0 <= args.warmup <= 60 and 1 <= args.connections <= 64):
        ap.error("--duration 1-120, --warmup 0-60, --connections 1-64")
    return args


def main() -> None:
    args = parse_args()
    loader = args.loader
    if loader == "auto":
        loader = "wrk" if shutil.which("wrk") else "python"
    work = Path(tempfile.mkdtemp(prefix="shipyard-envload-"))
    pg = _pg_database(args.database_url) if args.database_url else None
    url = pg[1] if pg else f"sqlite:///{work / 'shipyard.db'}"
    say = (lambda *a: None) if args.json else print
    try:
        summary, token = seed_all(args, work, url, say)
        lua = work / "env_load.lua"
        lua.write_text(client.LUA)
        say(f"load from a second process: {loader}, 1 thread, {args.connections} connections; "
            f"per endpoint a warm-up requesting every app (or page) once, in turn (at most "
            f"{args.warmup}s), then {args.duration}s of a random app (or page) per request")  # fmt: skip
        run = (lambda s: client.run_wrk(s, lua)) if loader == "wrk" else client.run_python
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
        servers = []
        for workers in args.workers:
            results = load_server(args, work, url, token, workers, run, say)
            servers.append({"workers": workers, "healthz_rps": results[0].rps,
                            "runs": [asdict(r) for r in results]})  # fmt: skip
            if not args.json:
                report(results, results[0].rps, workers)
                say(
                    "  warm-up requests: "
                    + ", ".join(f"{r.key} {r.warmup_requests}" for r in results)
                )
            record_figures(results, workers)
        last = servers[-1]
        summary.update(loader=loader, servers=servers, runs=last["runs"],
                       healthz_rps=last["healthz_rps"])  # fmt: skip
        if args.json:
            print(json.dumps(summary, indent=2))
        failed = [f"{s['workers']} worker(s) {r['path']}: {r['failed']}"
                  for s in servers for r in s["runs"] if r["failed"]]  # fmt: skip
        if failed:
            print(
                "FAILED (every request must answer 2xx):\n  " + "\n  ".join(failed), file=sys.stderr
            )
            sys.exit(1)
    finally:
        if pg and not args.keep:
            _pg_drop(args.database_url, pg[0])
        if args.keep:
            print(f"kept {work}" + (f" and database {pg[0]}" if pg else ""), file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def load_server(
    args: argparse.Namespace, work: Path, url: str, token: str, workers: int, run: Any, say: Any
) -> list[Result]:
    """Start ``shipyard serve --workers N``, load each target in turn, stop the server."""
    port = free_port()
    started = time.perf_counter()
    server = start_server(work, work / "shipyard.toml", url, port, workers)
    try:
        base = f"http://127.0.0.1:{port}"
        say(f"server: shipyard serve --no-schedule --workers {workers} on {base} (pid "
            f"{server.pid}), answering /healthz {time.perf_counter() - started:.1f}s after start")  # fmt: skip
        try:
            cookie, no_login = login(base, token), ""
        except (LoginFailed, httpx.HTTPError) as exc:  # the API runs still tell something
            cookie, no_login = "", f"no dashboard session: {exc}"
        headers = {
            "none": [],
            "token": [f"Authorization: Bearer {token}"],
            "cookie": [f"Cookie: {cookie}"],
        }
        results = []
        for t in TARGETS:
            spec = {"base": base, "path": t.path, "headers": headers[t.auth], "apps": args.apps,
                    "pages": -(-args.apps // 50), "mode": "random", "seconds": args.duration,
                    "connections": args.connections, "limit": args.max_requests}  # fmt: skip
            if t.auth == "cookie" and no_login:
                results.append(Result(t.key, t.path, failed=no_login))
                continue
            results.append(measure(t, spec, run, server.pid, args, workers))
        return results
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


def record_figures(results: list[Result], workers: int) -> None:
    """The headline figures into bench/summary.py's table: /healthz (the anchor), the API's
    req/s (target with several workers) and the pages' p99."""
    runs = {r.key: r for r in results}
    anchor = runs["healthz"].rps
    by = f", {workers} worker{'s' if workers > 1 else ''}"
    record("env_load", "/healthz req/s" + by, anchor, "req/s")
    api = runs["api"]
    if api.requests:
        many = workers > 1
        record("env_load", "environments API req/s" + by, api.rps, "req/s",
               anchor="/healthz", anchor_value=anchor, ratio=api.rps / anchor if anchor else None,
               target=f">= {API_TARGET_RPS:.0f} req/s" if many else "",
               ok=api.rps >= API_TARGET_RPS if many else None)  # fmt: skip
    for key in ("page", "overview"):
        r = runs[key]
        if r.requests:
            record("env_load", f"{r.path} p99{by}", r.p99_ms, "ms",
                   anchor="/healthz p99", anchor_value=runs["healthz"].p99_ms,
                   ratio=r.p99_ms / runs["healthz"].p99_ms if runs["healthz"].p99_ms else None,
                   target=f"p99 <= {PAGE_TARGET_P99_MS:.0f} ms",
                   ok=r.p99_ms <= PAGE_TARGET_P99_MS)  # fmt: skip


def seed_all(
    args: argparse.Namespace, work: Path, url: str, say: Any
) -> tuple[dict[str, Any], str]:
    import env_load_seed as seed  # here: the load generator's process needs none of it

    from shipyard.store.db import open_store, safe_url

    per = args.builds // args.apps
    started = time.perf_counter()
    history = seed.make_repo(work, args.cache, args.apps * per + 1)
    took_repo = time.perf_counter() - started
    config = seed.write_configs(work, args.apps, history.path, url)
    store = open_store(url)
    rows = seed.build_rows(history, args.apps, per)
    seed.insert_rows(store, rows)
    seed.add_refs(history, rows)
    counts = seed.count_rows(store)
    took = time.perf_counter() - started
    waiting = seed.refresh_waiting(config, store)
    token = seed.bench_token(store)
    store.close()
    say(f"seeded {safe_url(url)} in {took:.1f}s (repository {took_repo:.1f}s of it):")
    say("  " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    say(f"  one git repository for all {args.apps} apps: {history.path} ({history.commits} commits, "
        f"{len(history.changes)} on main's first-parent chain); app i owns {per} consecutive "
        f"first-parent commits and its main is branch bench/appNNNN ending at the newest")  # fmt: skip
    say(f"  waiting cache: {waiting}")
    summary = {"database": safe_url(url), "counts": counts, "repository": str(history.path),
               "commits": history.commits, "first_parent": len(history.changes),
               "builds_per_app": per, "waiting_cache": waiting, "seed_seconds": round(took, 2)}  # fmt: skip
    return summary, token


if __name__ == "__main__":
    main()
