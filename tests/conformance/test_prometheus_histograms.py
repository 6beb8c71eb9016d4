"""Native histogram queries: our HTTP API against the real Prometheus binary, same data.

Prometheus (with ``--enable-feature=native-histograms``) receives the histograms
through its remote-write receiver; our routes serve them from memory. The local
binary is Prometheus 2.42, so the test steers clear of what 3.x changed: queries
avoid interpolation inside a bucket (``histogram_quantile``), and counts stay far
from zero so that ``rate`` never clamps its extrapolation at zero (3.x does that
for histograms too, 2.x for floats only). Everything else must agree.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from beside_prometheus import close, serving_beside
from memstore import MemStore

from tests.support.prometheus import prometheus2_binary
from tidewell.model import Histogram, Labels
from tidewell.protocol.compression import snappy_compress
from tidewell.protocol.pb.prompb_pb2 import WriteRequest

STEP = 15_000
POINTS = 240  # 1 h
T0 = (int(time.time() * 1000) - POINTS * STEP - 120_000) // 60_000 * 60_000
QUERIES = [
    "lat",
    "rate(lat[5m])",
    "histogram_count(rate(lat[5m]))",
    "histogram_sum(increase(lat[5m]))",
    "sum by (job) (rate(lat[5m]))",
    "histogram_fraction(0, 4, lat)",
    "histogram_count(lat) / histogram_sum(lat)",
    "lat + on(job) lat",  # 2.42 has no histogram * scalar yet
    "sum(lat)",
]


def _dataset() -> dict[Labels, list[tuple[int, Histogram]]]:
    """Three integer counter histograms (schema 1); ``b`` has negative buckets and a zero
    bucket, ``c`` resets half-way (to a count well above zero)."""
    data = {}
    for job in ("a", "b", "c"):
        points = []
        for k in range(POINTS):
            n = k if job != "c" or k < POINTS // 2 else k - 20
            pos = (n, 2 * n, 3 * n, n)
            neg = (n, n) if job == "b" else ()
            zero = float(n) if job == "b" else 0.0
            h = Histogram(schema=1, zero_threshold=0.001 if job == "b" else 0.0,
                          zero_count=zero, count=float(sum(pos) + sum(neg) + zero),
                          sum=float(7 * n) + 0.25 * n, positive_spans=((1, 2), (1, 2)),
                          positive_buckets=tuple(float(x) for x in pos),
                          negative_spans=((0, 2),) if neg else (),
                          negative_buckets=tuple(float(x) for x in neg), integer=True)
            points.append((T0 + 3_000 + k * STEP, h))
        data[Labels([("__name__", "lat"), ("job", job)])] = points
    return data


def _deltas(counts: tuple[float, ...]) -> list[int]:
    out, prev = [], 0
    for c in counts:
        out.append(int(c) - prev)
        prev = int(c)
    return out


def _write_request(data: dict[Labels, list[tuple[int, Histogram]]]) -> bytes:
    wr = WriteRequest()
    for lb, points in data.items():
        ts = wr.timeseries.add()
        for name, value in lb:
            lab = ts.labels.add()
            lab.name, lab.value = name, value
        for t, h in points:
            ph = ts.histograms.add()
            ph.count_int = int(h.count)
            ph.sum = h.sum
            ph.schema = h.schema
            ph.zero_threshold = h.zero_threshold
            ph.zero_count_int = int(h.zero_count)
            for spans, field in ((h.positive_spans, ph.positive_spans),
                                 (h.negative_spans, ph.negative_spans)):
                for off, length in spans:
                    s = field.add()
                    s.offset, s.length = off, length
            ph.positive_deltas.extend(_deltas(h.positive_buckets))
            ph.negative_deltas.extend(_deltas(h.negative_buckets))
            ph.timestamp = t
    return snappy_compress(wr.SerializeToString())


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = _dataset()
    tmp = tmp_path_factory.mktemp("promhist")
    (tmp / "prometheus.yml").write_text("global: {}\n")
    store = MemStore()
    for lb, points in data.items():
        store.add_histograms(lb, [t for t, _ in points], [h for _, h in points])

    def ready(prom_url: str, _our_url: str) -> bool:
        return httpx.get(f"{prom_url}/-/ready", timeout=2).status_code == 200

    with serving_beside([prometheus2_binary(), f"--config.file={tmp / 'prometheus.yml'}",
                         f"--storage.tsdb.path={tmp / 'tsdb'}",
                         "--enable-feature=native-histograms",
                         "--web.enable-remote-write-receiver"], store, ready) as urls:
        r = httpx.post(f"{urls[0]}/api/v1/write", content=_write_request(data), timeout=30,
                       headers={"Content-Encoding": "snappy",
                                "Content-Type": "application/x-protobuf",
                                "X-Prometheus-Remote-Write-Version": "0.1.0"})
        assert r.status_code == 204, r.text
        yield urls


def _same_histogram(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if not (close(a["count"], b["count"]) and close(a["sum"], b["sum"])):
        return False
    ba, bb = a.get("buckets", []), b.get("buckets", [])
    return len(ba) == len(bb) and all(
        x[0] == y[0] and all(close(p, q) for p, q in zip(x[1:], y[1:], strict=True))
        for x, y in zip(ba, bb, strict=True))


def _points(series: dict[str, Any], kind: str) -> list[tuple[float, Any]]:
    keys = ("value", "histogram") if kind == "vector" else ("values", "histograms")
    out: list[tuple[float, Any]] = []
    for key in keys:
        got = series.get(key)
        if got is None:
            continue
        out += [tuple(got)] if kind == "vector" else [tuple(p) for p in got]  # type: ignore[misc]
    return sorted(out, key=lambda p: p[0])


def _compare(ours: dict[str, Any], theirs: dict[str, Any], query: str) -> None:
    assert ours["status"] == theirs["status"] == "success", (query, ours, theirs)
    kind = theirs["data"]["resultType"]
    assert ours["data"]["resultType"] == kind, query
    mine = {tuple(sorted(s["metric"].items())): _points(s, kind) for s in ours["data"]["result"]}
    ref = {tuple(sorted(s["metric"].items())): _points(s, kind)
           for s in theirs["data"]["result"]}
    assert mine.keys() == ref.keys(), query
    assert ref, query
    for k, want in ref.items():
        got = mine[k]
        assert [p[0] for p in got] == [p[0] for p in want], (query, k)
        for (t, g), (_, w) in zip(got, want, strict=True):
            same = _same_histogram(g, w) if isinstance(w, dict) else close(g, w)
            assert same, (query, k, t, g, w)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("query", QUERIES)
def test_histogram_query_matches_prometheus(servers: tuple[str, str], query: str) -> None:
    prom_url, our_url = servers
    params = {"query": query, "start": str((T0 + 600_000) / 1000),
              "end": str((T0 + 3_000_000) / 1000), "step": "60"}
    theirs = httpx.get(f"{prom_url}/api/v1/query_range", params=params, timeout=30).json()
    ours = httpx.get(f"{our_url}/api/v1/query_range", params=params, timeout=30).json()
    _compare(ours, theirs, query)
    params = {"query": query, "time": str((T0 + 1_807_000) / 1000)}
    theirs = httpx.get(f"{prom_url}/api/v1/query", params=params, timeout=30).json()
    ours = httpx.get(f"{our_url}/api/v1/query", params=params, timeout=30).json()
    _compare(ours, theirs, query)
