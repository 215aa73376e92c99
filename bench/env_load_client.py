"""The load generators of ``env_load.py``: ``wrk`` with a Lua script, or a Python client.

Both take one spec (a dict: base URL, path pattern with ``{app}`` and ``{page}``,
headers, app and page counts, ``mode`` "random" or "seq" (apps in turn),
connections, seconds, and a request cap) and return one summary: requests,
duration, p50 and p99 in microseconds, non-2xx answers (and the first such
status) and socket errors. Each run stops at its time limit or at its cap
(wrk's threads stop at the cap, but wrk itself always runs for its ``-d``).

The Python client runs in its own process::

    python bench/env_load_client.py '{"base": "http://127.0.0.1:8100", "path": "/healthz", ...}'
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TIMEOUT_S = 10

LUA = r"""
local threads = {}
function setup(thread) thread:set("tid", #threads); table.insert(threads, thread) end
function init(args)
  pattern, apps, pages, mode, limit = args[1], tonumber(args[2]), tonumber(args[3]), args[4], tonumber(args[5])
  count, answered, non2xx, first_bad = 0, 0, 0, ""
  math.randomseed(os.time() + 7919 * tid)
end
function request()
  local i, p
  if mode == "seq" then i, p = (count + 331 * tid) % apps, count % pages + 1
  else i, p = math.random(0, apps - 1), math.random(1, pages) end
  count = count + 1
  local path = pattern:gsub("{app}", string.format("app%04d", i))
  path = path:gsub("{page}", tostring(p))
  return wrk.format(nil, path)
end
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == "" then first_bad = tostring(status) end
  end
  answered = answered + 1
  if answered >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local bad, first = 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    if first == "" then first = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"first_bad":"%s",' ..
    '"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n', summary.requests, summary.duration, bad, first,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def run_wrk(spec: dict[str, Any], lua: Path) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{spec['connections']}", f"-d{spec['seconds']}s",
           f"--timeout={TIMEOUT_S}s", "-s", str(lua)]  # fmt: skip
    cmd += [arg for h in spec["headers"] for arg in ("-H", h)]
    cmd += [spec["base"], "--", spec["path"], str(spec["apps"]), str(spec["pages"]), spec["mode"],
            str(spec["limit"])]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=spec["seconds"] + 60)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk failed ({out.returncode}): {out.stdout}{out.stderr}")
    got: dict[str, Any] = json.loads(line[8:])
    return got


async def _client(spec: dict[str, Any], deadline: float, tid: int, got: dict[str, Any]) -> None:
    host, port = spec["base"].removeprefix("http://").split(":")
    head = "".join(f"{h}\r\n" for h in spec["headers"])
    rng, conn = random.Random(tid), None
    while time.monotonic() < deadline and got["issued"] < spec["limit"]:
        n = got["issued"]  # shared by the connections: "seq" requests every app once, in turn
        got["issued"] += 1
        if spec["mode"] == "seq":
            i, page = n % spec["apps"], n % spec["pages"] + 1
        else:
            i, page = rng.randrange(spec["apps"]), rng.randint(1, spec["pages"])
        path = spec["path"].replace("{app}", f"app{i:04d}").replace("{page}", str(page))
        started = time.perf_counter()
        try:
            if conn is None:
                conn = await asyncio.open_connection(host, int(port))
            conn[1].write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{head}\r\n".encode())
            status = await asyncio.wait_for(_answer(conn[0]), TIMEOUT_S)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            got["socket_errors"] += 1
            if conn is not None:
                conn[1].close()
            conn = None
            await asyncio.sleep(0.05)
            continue
        got["latencies"].append(time.perf_counter() - started)
        got["requests"] += 1
        if not 200 <= status < 300:
            got["non2xx"] += 1
            got["first_bad"] = got["first_bad"] or str(status)
    if conn is not None:
        conn[1].close()


async def _answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (Content-Length or chunked body); return its status."""
    status = int((await reader.readline()).split()[1])
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        await reader.readexactly(length)
        return status
    while size := int((await reader.readline()).split(b";")[0], 16):
        await reader.readexactly(size + 2)
    await reader.readline()
    return status


def loadgen(spec: dict[str, Any]) -> None:
    """The Python load generator (in its own process): prints the same JSON wrk's script does."""
    got: dict[str, Any] = {"issued": 0, "requests": 0, "non2xx": 0, "socket_errors": 0,
                           "first_bad": "", "latencies": []}  # fmt: skip
    started = time.monotonic()

    async def run() -> None:
        deadline = started + spec["seconds"]
        await asyncio.gather(*(_client(spec, deadline, t, got) for t in range(spec["connections"])))

    asyncio.run(run())
    lat = sorted(got.pop("latencies")) or [0.0]
    got["duration_us"] = int((time.monotonic() - started) * 1e6)
    got["p50_us"] = int(lat[len(lat) // 2] * 1e6)
    got["p99_us"] = int(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6)
    print("WRKJSON " + json.dumps(got))


def run_python(spec: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, json.dumps(spec)],
                         capture_output=True, text=True, timeout=spec["seconds"] + 60)  # fmt: skip
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"the Python load generator failed: {out.stderr}")
    got: dict[str, Any] = json.loads(line[8:])
    return got


if __name__ == "__main__":
    loadgen(json.loads(sys.argv[1]))
