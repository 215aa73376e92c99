"""The probes against a real Prometheus (no targets: its own expressions give the data)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import free_port
from prometheus_server import Prometheus, running_prometheus
from shipyard.adapters.verify.probes import ProbeError, prometheus_value, status_of


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    where: Path = tmp_path_factory.mktemp("prom")
    with running_prometheus(where, []) as p:
        yield p


def test_values_at_a_time(prom: Prometheus) -> None:
    now = time.time()
    assert prometheus_value(prom.url, "vector(0.25)", at=now) == 0.25
    assert prometheus_value(prom.url, "scalar(vector(2))", at=now) == 2.0
    assert prometheus_value(prom.url, "time()", at=1_700_000_000) == 1_700_000_000
    assert prometheus_value(prom.url, "absent_metric_total", at=now) is None  # no data
    assert prometheus_value(prom.url, "vector(0) / vector(0)", at=now) is None  # NaN


def test_what_cannot_be_judged_says_why_in_one_line(prom: Prometheus) -> None:
    now = time.time()
    with pytest.raises(ProbeError, match=r"^Prometheus refused the query: .*parse error"):
        prometheus_value(prom.url, "sum(", at=now)
    two = 'label_replace(vector(1), "a", "x", "", "") or label_replace(vector(2), "a", "y", "", "")'
    with pytest.raises(ProbeError, match=r"^the query gives 2 series; aggregate it"):
        prometheus_value(prom.url, two, at=now)
    with pytest.raises(ProbeError, match=r"^the query gives a string, not one number$"):
        prometheus_value(prom.url, '"text"', at=now)


def test_nothing_listening_and_no_password_in_the_message() -> None:
    port = free_port()
    url = f"http://watcher:s3cret@127.0.0.1:{port}"
    with pytest.raises(ProbeError) as err:
        prometheus_value(url, "vector(1)", at=time.time())
    assert (
        err.value.message == f"Prometheus at http://127.0.0.1:{port} did not answer: ConnectError"
    )
    with pytest.raises(ProbeError) as err:
        status_of(url + "/health")
    assert err.value.message == f"GET http://127.0.0.1:{port}/health did not answer: ConnectError"
