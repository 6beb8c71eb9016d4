"""Our HTTP API against the real Prometheus 3 binary on the same data.

The same series are written as OpenMetrics, turned into a TSDB block with
``promtool tsdb create-blocks-from openmetrics`` and served by ``prometheus``;
our routes serve them from memory through uvicorn. Responses are compared
field by field, and ``promtool query`` (a real client) must print the same
for both. Queries run between samples and exactly on them: there a range's
left boundary is open, as in Prometheus 3 (2.x closed it).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from beside_prometheus import close, serving_beside
from memstore import MemStore

from tests.support.prometheus import prometheus_binary, promtool_binary
from tidewell.model import Labels

# Samples at T0 + 3s + k*15s, queries at T0 + 7s (or 3s) + m*60s, subquery steps at multiples of
# 60s. Recent data, because promtool's series and labels queries look about a year around now.
T0 = (int(time.time() * 1000) - 6 * 3600_000) // 3600_000 * 3600_000
STEP = 15_000
POINTS = 480  # 2 h
QUERIES = [
    "http_requests_total",
    'http_requests_total{job="api"}',
    "rate(http_requests_total[5m])",
    "sum by (job) (rate(http_requests_total[5m]))",
    "avg without (instance) (http_requests_total)",
    "topk(2, http_requests_total)",
    "histogram_quantile(0.9, sum by (le) (rate(latency_seconds_bucket[10m])))",
    "http_requests_total / on(job, instance) group_left "
    "sum by (job, instance) (http_requests_total)",
    "max_over_time(rate(http_requests_total[5m])[20m:1m])",
    "count_values(\"v\", round(temperature))",
    "temperature > bool 20",
    "delta(temperature[10m]) * 2 - abs(temperature)",
    "absent(nonexistent)",
    "label_replace(temperature, \"room\", \"r-$1\", \"instance\", \"(.*)\")",
    "quantile_over_time(0.3, temperature[15m])",
    "stddev by (job) (temperature)",
]


def _dataset() -> dict[Labels, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    ts = T0 + 3_000 + np.arange(POINTS, dtype=np.int64) * STEP
    data = {}
    for job in ("api", "web"):
        for inst in ("a", "b", "c"):
            lb = Labels([("__name__", "http_requests_total"), ("job", job), ("instance", inst)])
            data[lb] = (ts, np.cumsum(rng.integers(0, 20, POINTS)).astype(float))
            lb = Labels([("__name__", "temperature"), ("job", job), ("instance", inst)])
            data[lb] = (ts, np.round(20 + 5 * np.sin(np.arange(POINTS) / 30)
                                     + rng.normal(0, 1, POINTS), 3))
    for le in ("0.1", "0.5", "1", "+Inf"):
        lb = Labels([("__name__", "latency_seconds_bucket"), ("le", le)])
        scale = {"0.1": 1, "0.5": 3, "1": 4, "+Inf": 5}[le]
        data[lb] = (ts, np.arange(POINTS, dtype=float) * scale)
    return data


def _openmetrics(data: dict[Labels, tuple[np.ndarray, np.ndarray]]) -> str:
    lines = []
    for name in sorted({lb.name for lb in data}):
        kind = "counter" if name.endswith("_total") else "gauge"
        family = name[: -len("_total")] if kind == "counter" else name
        lines.append(f"# TYPE {family} {kind}")
        for lb, (ts, vs) in data.items():
            if lb.name != name:
                continue
            inner = ",".join(f'{k}="{v}"' for k, v in lb if k != "__name__")
            for t, v in zip(ts.tolist(), vs.tolist(), strict=True):
                lines.append(f"{name}{{{inner}}} {v!r} {t / 1000:.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = _dataset()
    tmp = tmp_path_factory.mktemp("prom")
    (tmp / "data.om").write_text(_openmetrics(data))
    subprocess.run([promtool_binary(), "tsdb", "create-blocks-from", "openmetrics",
                    str(tmp / "data.om"), str(tmp / "tsdb")], check=True,
                   capture_output=True, timeout=120)
    (tmp / "prometheus.yml").write_text("global: {}\n")
    store = MemStore()
    store.series.update(data)

    def ready(prom_url: str, our_url: str) -> bool:
        ok = httpx.get(f"{prom_url}/api/v1/query", params={
            "query": "count(http_requests_total)", "time": str((T0 + 3600_000) / 1000)},
            timeout=2).json()["data"]["result"]
        return bool(ok) and httpx.get(f"{our_url}/api/v1/labels", timeout=2).status_code == 200

    with serving_beside([prometheus_binary(), f"--config.file={tmp / 'prometheus.yml'}",
                         f"--storage.tsdb.path={tmp / 'tsdb'}",
                         "--storage.tsdb.retention.time=100y"], store, ready) as urls:
        yield urls


def _compare(ours: dict, theirs: dict, query: str) -> None:  # type: ignore[type-arg]
    assert ours["status"] == theirs["status"] == "success", (query, ours, theirs)
    assert ours["data"]["resultType"] == theirs["data"]["resultType"], query
    key = "values" if ours["data"]["resultType"] == "matrix" else "value"
    mine = {tuple(sorted(s["metric"].items())): s[key] for s in ours["data"]["result"]}
    ref = {tuple(sorted(s["metric"].items())): s[key] for s in theirs["data"]["result"]}
    assert mine.keys() == ref.keys(), query
    for k, pts in ref.items():
        got = mine[k] if key == "values" else [mine[k]]
        want = pts if key == "values" else [pts]
        assert [p[0] for p in got] == [p[0] for p in want], (query, k)
        for g, w in zip(got, want, strict=True):
            assert close(g[1], w[1]), (query, k, g, w)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("offset_ms", [7_000, 3_000], ids=["between-samples", "on-samples"])
@pytest.mark.parametrize("query", QUERIES)
def test_range_query_matches_prometheus(servers: tuple[str, str], query: str,
                                        offset_ms: int) -> None:
    prom_url, our_url = servers
    params = {"query": query, "start": str((T0 + 1800_000 + offset_ms) / 1000),
              "end": str((T0 + 5400_000 + offset_ms) / 1000), "step": "60"}
    theirs = httpx.get(f"{prom_url}/api/v1/query_range", params=params, timeout=30).json()
    ours = httpx.get(f"{our_url}/api/v1/query_range", params=params, timeout=30).json()
    _compare(ours, theirs, query)
    params = {"query": query, "time": str((T0 + 3000_000 + offset_ms) / 1000)}
    theirs = httpx.get(f"{prom_url}/api/v1/query", params=params, timeout=30).json()
    ours = httpx.get(f"{our_url}/api/v1/query", params=params, timeout=30).json()
    _compare(ours, theirs, query)


def _promtool(*args: str) -> str:
    out = subprocess.run([promtool_binary(), "query", *args], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.timeout(120)
def test_promtool_queries(servers: tuple[str, str]) -> None:
    prom_url, our_url = servers
    t = str((T0 + 3007_000) / 1000)
    for args in (
        ("instant", f"--time={t}", "{url}", "sum by (job) (rate(http_requests_total[5m]))"),
        ("range", f"--start={t}", f"--end={(T0 + 3307_000) / 1000}", "--step=1m", "{url}",
         "temperature"),
        ("series", "--match=temperature", "{url}"),
        ("labels", "{url}", "job"),
    ):
        mine = _promtool(*(a.replace("{url}", our_url) for a in args))
        ref = _promtool(*(a.replace("{url}", prom_url) for a in args))
        assert mine.strip(), args
        assert sorted(mine.splitlines()) == sorted(ref.splitlines()), args


@pytest.mark.timeout(60)
def test_error_shapes_match(servers: tuple[str, str]) -> None:
    prom_url, our_url = servers
    for path, params in (
        ("query", {"query": "sum(", "time": "1"}),
        ("query", {"query": "rate(temperature)", "time": "1"}),
        ("query_range", {"query": "temperature", "start": "0", "end": "20000", "step": "1"}),
        ("query_range", {"query": "temperature", "start": "10", "end": "0", "step": "1"}),
        # No delayed name removal by default (as Prometheus 3): temperature and
        # http_requests_total share their other labels, so dropping the names collides.
        ("query", {"query": 'sum(rate({job="api"}[5m]))', "time": str((T0 + 3000_000) / 1000)}),
        ("query_range", {"query": 'abs({job="api"})', "start": str((T0 + 1800_000) / 1000),
                         "end": str((T0 + 3600_000) / 1000), "step": "60"}),
    ):
        theirs = httpx.get(f"{prom_url}/api/v1/{path}", params=params, timeout=30)
        ours = httpx.get(f"{our_url}/api/v1/{path}", params=params, timeout=30)
        assert ours.status_code == theirs.status_code, (params, ours.text, theirs.text)
        assert ours.json()["errorType"] == theirs.json()["errorType"], params
        assert set(ours.json()) == set(theirs.json()), params
        if "labelset" in theirs.json()["error"]:
            assert ours.json()["error"] == theirs.json()["error"], params
