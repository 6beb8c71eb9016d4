"""Recording rules: Tidewell's ruler records what the real Prometheus computes, sample for sample.

Both receive the same remote-write load (the same samples, same timestamps) and
evaluate the same rule file. They evaluate at their own instants, so the
comparison is done at each side's instants, in both directions:

* every sample our ruler recorded at ``t`` equals Prometheus's answer to the
  rule's expression at ``t`` (label sets and values), and
* every sample Prometheus recorded at ``t'`` equals our query API's answer to
  the same expression at ``t'``.

The rules read 3 s in the past (``query_offset``), so at any evaluation instant both
hold the same data (no race with ingestion). The second rule reads the first rule's output
(``job:m:rate30s * 10``): it is compared with the first rule's expression inlined,
which holds only if it read the first rule's output of the *same* evaluation —
what strong read consistency gives it.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import cramjam
import httpx
import pytest

from tests.e2e.conftest import TidewellProcess
from tests.support.prometheus import PrometheusProcess
from tidewell.protocol.pb import prompb_pb2 as pb

TENANT = "team-a"
RULES = {
    "job:m:rate30s": "sum by (job) (rate(m[30s]))",
    "job:m:rate30s:x10": "job:m:rate30s * 10",
    "m:max": "max without (instance) (m)",
}
INLINED = {**RULES, "job:m:rate30s:x10": f"({RULES['job:m:rate30s']}) * 10"}
GROUP = ("name: g\ninterval: 1s\nquery_offset: 3s\nrules:\n" + "".join(
    f"  - record: {name}\n    expr: {expr}\n" for name, expr in RULES.items()))

CONSISTENCY = ("name: consistency\ninterval: 1s\nrules:\n"
               "  - record: t:now\n    expr: vector(time())\n"
               "  - record: t:copy\n    expr: t:now\n")


def write_request(ts_ms: int, step: int) -> bytes:
    req = pb.WriteRequest()
    for job in ("api", "db"):
        for inst in range(5):
            s = req.timeseries.add()
            for k, v in sorted({"__name__": "m", "job": job, "instance": f"i{inst}"}.items()):
                s.labels.add(name=k, value=v)
            s.samples.add(value=float(step * (inst + 1) + (7 if job == "db" else 0)),
                          timestamp=ts_ms)
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def push_loop(urls: list[tuple[str, dict[str, str]]], stop: threading.Event) -> None:
    step = 0
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            body = write_request(round(time.time() * 1000), step)
            for url, headers in urls:
                r = client.post(url, content=body, headers={
                    **headers, "Content-Encoding": "snappy",
                    "Content-Type": "application/x-protobuf"})
                assert r.status_code in (200, 204), r.text
            step += 1
            stop.wait(0.5)


def samples(url: str, expr: str, at: float, headers: dict[str, str]) -> dict:
    r = httpx.get(f"{url}/api/v1/query", params={"query": expr, "time": f"{at:.3f}"},
                  headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def as_map(result: list[dict]) -> dict[tuple, float]:
    return {tuple(sorted((k, v) for k, v in s["metric"].items() if k != "__name__")):
            float(s["value"][1]) for s in result}


def recorded(url: str, name: str, headers: dict[str, str]) -> list[tuple[tuple, float, float]]:
    data = samples(url, f"{name}[10m]", time.time(), headers)
    return [(tuple(sorted((k, v) for k, v in s["metric"].items() if k != "__name__")),
             float(t), float(v)) for s in data["result"] for t, v in s["values"]]


def recorded_enough(api: str, headers: dict[str, str], prom_url: str) -> bool:
    """Every rule recorded at 5 instants or more on both sides, and 5 consistency copies."""
    return all(len({t for _, t, _ in recorded(url, name, h)}) >= 5
               for name in RULES for url, h in ((api, headers), (prom_url, {}))) and len(
        recorded(api, "t:copy", headers)) >= 5


def same(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.timeout(240)
def test_recording_rules_equal_prometheus(tmp_path: Path, tidewell: TidewellProcess) -> None:
    tidewell.args = ["-ruler.poll-interval=1s"]
    tidewell.start()
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text("groups:\n" + "".join(
        "  " + line + "\n" for line in GROUP.splitlines()).replace("  name:", "- name:", 1))
    prom = PrometheusProcess(tmp_path / "prom", {
        "global": {"evaluation_interval": "1s"}, "rule_files": [str(rules_file)]},
        extra_args=["--web.enable-remote-write-receiver"])
    prom.start()
    ours = {"X-Scope-OrgID": TENANT}
    stop = threading.Event()
    try:
        r = httpx.post(f"{tidewell.url}/prometheus/config/v1/rules/ns", content=GROUP,
                       headers=ours)
        assert r.status_code == 202, r.text
        r = httpx.post(f"{tidewell.url}/prometheus/config/v1/rules/ns", content=CONSISTENCY,
                       headers=ours)
        assert r.status_code == 202, r.text
        writer = threading.Thread(target=push_loop, args=(
            [(f"{tidewell.url}/api/v1/push", ours), (f"{prom.url}/api/v1/write", {})], stop))
        writer.start()
        api = f"{tidewell.url}/prometheus"
        deadline = time.monotonic() + 90
        while not recorded_enough(api, ours, prom.url):
            assert time.monotonic() < deadline, tidewell.logs()
            time.sleep(1)
        stop.set()
        writer.join()
        compared = 0
        for name, expr in INLINED.items():
            ours_rec = recorded(api, name, ours)
            theirs_rec = recorded(prom.url, name, {})
            assert len({t for _, t, _ in ours_rec}) >= 5, (name, ours_rec, tidewell.logs())
            assert len({t for _, t, _ in theirs_rec}) >= 5, (name, theirs_rec)
            for side, rec, other_url, other_headers in (
                    ("ours", ours_rec, prom.url, {}), ("prometheus", theirs_rec, api, ours)):
                by_t: dict[float, dict[tuple, float]] = {}
                for labels, t, v in rec:
                    by_t.setdefault(t, {})[labels] = v
                for t, got in by_t.items():
                    want = as_map(samples(other_url, expr, t, other_headers)["result"])
                    assert got.keys() == want.keys(), (side, name, t, got, want)
                    for labels, v in got.items():
                        assert same(v, want[labels]), (side, name, t, labels, v, want[labels])
                        compared += 1
        assert compared >= 60
        copies = recorded(api, "t:copy", ours)
        assert len(copies) >= 5
        assert all(v == t for _, t, v in copies), copies
        metrics = httpx.get(f"{tidewell.url}/metrics").text
        for name in ("cortex_prometheus_rule_evaluations_total",
                     "cortex_prometheus_rule_group_last_duration_seconds",
                     "cortex_prometheus_rule_group_last_evaluation_timestamp_seconds",
                     "cortex_prometheus_rule_group_iterations_total"):
            assert f'{name}{{rule_group="ns;g",user="{TENANT}"}}' in metrics, name
        assert (f'cortex_prometheus_rule_evaluation_failures_total{{rule_group="ns;g",'
                f'user="{TENANT}"}} 0.0') in metrics
        status = httpx.get(f"{tidewell.url}/ruler/status").text
        assert "<td>consistency</td>" in status and "<td>g</td>" in status
        groups = httpx.get(f"{api}/api/v1/rules", headers=ours).json()["data"]["groups"]
        assert {g["name"]: [r["health"] for r in g["rules"]] for g in groups} == {
            "g": ["ok", "ok", "ok"], "consistency": ["ok", "ok"]}, groups
    finally:
        stop.set()
        prom.stop()
