"""Query limits are per tenant: runtime-config overrides give two tenants different limit
errors through the real ``tidewell`` process, and a reload applies to the next query."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

SERIES = 5


def push(url: str, tenant: str, ts_ms: int) -> None:
    labels = [Labels.from_dict({"__name__": "limits_test", "i": str(i)}) for i in range(SERIES)]
    batch = SampleBatch(labels=labels, series_index=np.arange(SERIES, dtype=np.int32),
                        timestamps=np.full(SERIES, ts_ms, dtype=np.int64),
                        values=np.arange(float(SERIES)))
    r = httpx.post(f"{url}/api/v1/push",
                   content=bytes(snappy_compress(encode_write_request(batch))),
                   headers={"Content-Encoding": "snappy",
                            "Content-Type": "application/x-protobuf",
                            "X-Prometheus-Remote-Write-Version": "0.1.0",
                            "X-Scope-OrgID": tenant}, timeout=30)
    assert r.status_code == 200, r.text


def query(url: str, tenant: str, q: str, at_s: float) -> httpx.Response:
    return httpx.get(f"{url}/prometheus/api/v1/query", params={"query": q, "time": at_s},
                     headers={"X-Scope-OrgID": tenant}, timeout=30)


def query_range(url: str, tenant: str, start_s: float, end_s: float) -> httpx.Response:
    return httpx.get(f"{url}/prometheus/api/v1/query_range",
                     params={"query": "count(limits_test)", "start": start_s, "end": end_s,
                             "step": "1h"},
                     headers={"X-Scope-OrgID": tenant}, timeout=30)


def write_overrides(path: Path, body: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(body)
    tmp.replace(path)


def test_two_tenants_get_their_own_limit_errors(tidewell: TidewellProcess, tmp_path: Path) -> None:
    runtime = tmp_path / "runtime.yaml"
    write_overrides(runtime, (
        "overrides:\n"
        "  few-series:\n"
        "    max_fetched_series_per_query: 2\n"
        "  short-range:\n"
        "    max_partial_query_length: 1h\n"
        "    max_total_query_length: 2d\n"))
    tidewell.args = [f"-runtime-config.file={runtime}", "-runtime-config.reload-period=200ms"]
    tidewell.start()
    now = time.time()
    for tenant in ("few-series", "short-range", "default"):
        push(tidewell.url, tenant, int(now * 1000))
    deadline = time.monotonic() + 30
    while True:  # consumed into the head for every tenant
        r = query(tidewell.url, "default", "count(limits_test)", now)
        if r.status_code == 200 and r.json()["data"]["result"]:
            break
        assert time.monotonic() < deadline, r.text
        time.sleep(0.1)
    time.sleep(0.5)

    r = query(tidewell.url, "few-series", "count(limits_test)", now)
    assert r.status_code == 422, r.text
    assert r.json()["errorType"] == "execution"
    assert r.json()["error"].startswith("the query exceeded the maximum number of series "
                                        "(limit: 2 series) (err-mimir-max-series-per-query)")
    r = query(tidewell.url, "few-series", 'count_over_time(limits_test{i="1"}[2h])', now)
    assert r.status_code == 200, r.text  # no length limit for this tenant

    r = query(tidewell.url, "short-range", "count(limits_test)", now)
    assert r.status_code == 200 and r.json()["data"]["result"][0]["value"][1] == str(SERIES)
    r = query(tidewell.url, "short-range", "count_over_time(limits_test[2h])", now)
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith(
        "the query time range exceeds the limit (query length: 2h0m0s, limit: 1h0m0s) "
        "(err-mimir-max-query-length)")
    r = query_range(tidewell.url, "short-range", now - 3 * 86400, now)
    assert r.status_code == 400, r.text
    assert "(err-mimir-max-total-query-length)" in r.json()["error"]
    assert r.json()["error"].startswith(
        "the total query time range exceeds the limit (query length: 72h0m0s, limit: 48h0m0s)")
    r = query_range(tidewell.url, "few-series", now - 3 * 86400, now)
    assert "err-mimir-max-total-query-length" not in r.text

    for q in ("count(limits_test)", "count_over_time(limits_test[2h])"):
        r = query(tidewell.url, "default", q, now)
        assert r.status_code == 200, r.text

    # A reload of the runtime config applies to the next query of that tenant.
    write_overrides(runtime, "overrides:\n  default:\n    max_fetched_series_per_query: 1\n")
    deadline = time.monotonic() + 10
    while query(tidewell.url, "default", "count(limits_test)", now).status_code == 200:
        assert time.monotonic() < deadline, "runtime config reload not applied"
        time.sleep(0.1)
    r = query(tidewell.url, "default", "count(limits_test)", now)
    assert r.status_code == 422 and "(limit: 1 series)" in r.json()["error"]
    r = query(tidewell.url, "short-range", "count(limits_test)", now)
    assert r.status_code == 200, r.text
