"""A real Prometheus (Debian's ``prometheus``) on a free loopback port, scraping given
targets every second, its storage in a temporary directory.

    with running_prometheus(tmp_path, ["127.0.0.1:8001"]) as prom:
        prom.url           # http://127.0.0.1:PORT
        prom.wait_for_samples("http_requests_total", 3)
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import free_port

CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: app
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: [{targets}]
"""


@dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def value(self, query: str) -> float | None:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=3).json()
        result = body["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def wait_for_samples(self, metric: str, count: int, timeout: float = 60) -> None:
        """Until ``metric`` has ``count`` samples in the last minute (bounded by ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if (self.value(f"max(count_over_time({metric}[1m]))") or 0) >= count:
                    return
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"Prometheus has no {count} samples of {metric}:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextmanager
def running_prometheus(where: Path, targets: list[str]) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("Debian's prometheus is not installed (scripts/services installs it)")
    where.mkdir(parents=True, exist_ok=True)
    config = where / "prometheus.yml"
    config.write_text(CONFIG.format(targets=", ".join(f'"{t}"' for t in targets)))
    port = free_port()
    log = where / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={where / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    prom = Prometheus(f"http://127.0.0.1:{port}", proc, log)
    try:
        _wait_ready(prom)
        yield prom
    finally:
        prom.stop()


def _wait_ready(prom: Prometheus, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if prom.proc.poll() is not None:
            raise AssertionError(f"prometheus exited {prom.proc.returncode}:\n{prom.tail()}")
        try:
            if httpx.get(f"{prom.url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"prometheus did not become ready:\n{prom.tail()}")
