"""Retags per second: Shipyard's OCI store against a raw loop of manifest GET + PUT.

    .venv/bin/python bench/retag_bench.py            # 200 retags each, 3 alternating rounds
    .venv/bin/python bench/retag_bench.py --count 50 --rounds 1 --json

Starts Debian's docker-registry on a free loopback port with a temporary storage directory,
pushes one small image with skopeo (an OCI layout built here), then, in the same run and
against the same registry, times ``--count`` retags of that image to fresh tags:

- raw: one httpx client, GET the manifest by tag, PUT its bytes under the new tag;
- shipyard: ``OciArtifactStore.retag`` (HEAD of the new tag to refuse a moved tag, GET,
  PUT, digest check, per-repository lock, retries).

Prints both rates, the ratio (target >= 0.8x) and the failures (target 0). Bounded: at most
1,000 retags a side and round, each request with a timeout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "adapters")]

from oci_registry import Registry, build_image  # noqa: E402
from summary import record  # noqa: E402

from shipyard.adapters.artifacts.oci import OciArtifactStore  # noqa: E402
from shipyard.adapters.artifacts.registry_client import ACCEPT, RegistryClient  # noqa: E402

REPO = "bench/web"
TARGET = 0.8


def raw_loop(host: str, count: int, prefix: str) -> tuple[float, int]:
    failures = 0
    with httpx.Client(timeout=30) as c:
        start = time.perf_counter()
        for i in range(count):
            got = c.get(f"http://{host}/v2/{REPO}/manifests/abc1234", headers={"Accept": ACCEPT})
            put = c.put(
                f"http://{host}/v2/{REPO}/manifests/{prefix}-{i}",
                content=got.content,
                headers={"Content-Type": got.headers["Content-Type"]},
            )
            failures += got.status_code != 200 or put.status_code != 201
        return time.perf_counter() - start, failures


def shipyard_loop(host: str, count: int, prefix: str, digest: str) -> tuple[float, int, int]:
    failures = 0
    with OciArtifactStore(RegistryClient(host, insecure=True), REPO) as store:
        start = time.perf_counter()
        for i in range(count):
            try:
                done = store.retag("abc1234", f"{prefix}-{i}")
                failures += done.digest != digest or not done.changed
            except Exception:  # counted: the benchmark reports failures, it does not stop
                failures += 1
        return time.perf_counter() - start, failures, store.client.stats.server_errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    count, rounds = max(1, min(args.count, 1000)), max(1, min(args.rounds, 10))
    with tempfile.TemporaryDirectory(prefix="shipyard-retag-") as tmp, Registry(Path(tmp)) as reg:
        image = build_image(Path(tmp) / "layout", "bench")
        reg.push(image.layout, REPO, "abc1234")
        raw_t = ship_t = 0.0
        raw_f = ship_f = ship_5xx = 0
        for r in range(rounds):  # alternate, so drift on a shared machine hits both
            t, f = raw_loop(reg.host, count, f"raw{r}")
            raw_t, raw_f = raw_t + t, raw_f + f
            t, f, e = shipyard_loop(reg.host, count, f"ship{r}", image.digest)
            ship_t, ship_f, ship_5xx = ship_t + t, ship_f + f, ship_5xx + e
    n = count * rounds
    raw_rate, ship_rate = n / raw_t, n / ship_t
    ratio = ship_rate / raw_rate
    summary = {
        "retags": n,
        "raw_per_s": round(raw_rate, 1),
        "shipyard_per_s": round(ship_rate, 1),
        "ratio": round(ratio, 3),
        "raw_failures": raw_f,
        "shipyard_failures": ship_f,
        "shipyard_5xx_retried": ship_5xx,
    }
    record("retag_bench", "raw GET+PUT retags (anchor)", raw_rate, "retags/s")
    record(
        "retag_bench", f"shipyard retags ({ship_f} failures)", ship_rate, "retags/s",
        anchor="raw GET+PUT", anchor_value=raw_rate, ratio=ratio,
        target=f">= {TARGET}x, 0 failures", ok=ratio >= TARGET and ship_f == 0,
    )  # fmt: skip
    if args.json:
        print(json.dumps(summary))
    else:
        ok = ratio >= TARGET and ship_f == 0
        print(f"retag by manifest, {n} retags a side ({rounds} rounds of {count}), one image:")
        print(f"  raw GET+PUT loop (httpx)     {raw_rate:7.1f} retags/s   failures {raw_f}")
        print(
            f"  shipyard OciArtifactStore    {ship_rate:7.1f} retags/s   failures {ship_f}"
            f"   (5xx retried: {ship_5xx})"
        )
        print(
            f"  ratio {ratio:.2f}x  target >= {TARGET}x with 0 failures: {'OK' if ok else 'MISSED'}"
        )
    return 0 if ship_f == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
