"""Rules over native histograms: Tidewell's ruler records the same histograms as Prometheus 3.

The real Prometheus 3 scrapes its own native histograms
(``prometheus_http_request_duration_seconds``), evaluates a rule file and
remote-writes the scraped samples to Tidewell (not its own rule results: those
are dropped by relabelling, our ruler writes its own). Tidewell's ruler evaluates
the same rule file. With a ``query_offset`` both read the same samples, so:

* every histogram our ruler recorded at ``t`` equals Prometheus's answer to the
  rule's expression at ``t`` (count, sum, every bucket), and
* every histogram Prometheus recorded at ``t'`` equals our query API's answer at ``t'``.

The alerting rule ``histogram_quantile(…) >= 0`` fires in our ruler: histograms in,
floats out, as Prometheus evaluates it.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import TidewellProcess
from tests.support.ports import free_port
from tests.support.prometheus import PrometheusProcess, self_scrape_config

TENANT = "team-h"
HEADERS = {"X-Scope-OrgID": TENANT}
H = "prometheus_http_request_duration_seconds"
RECORD = "job:http_duration:rate1m"
EXPR = f"sum by (job) (rate({H}[1m]))"
GROUP = (f"name: h\ninterval: 1s\nquery_offset: 6s\nrules:\n"
         f"  - record: {RECORD}\n    expr: {EXPR}\n"
         f"  - alert: HalfOfRequestsTimed\n"
         f"    expr: histogram_quantile(0.5, {EXPR}) >= 0\n")

Hist = dict[str, object]


def query(url: str, expr: str, at: float, headers: dict[str, str]) -> list[dict]:
    r = httpx.get(f"{url}/api/v1/query", params={"query": expr, "time": f"{at:.3f}"},
                  headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["data"]["result"]


def recorded(url: str, headers: dict[str, str]) -> dict[float, dict[tuple, Hist]]:
    """Each recorded instant's histograms, by label set (``__name__`` left out)."""
    out: dict[float, dict[tuple, Hist]] = {}
    for s in query(url, f"{RECORD}[10m]", time.time(), headers):
        assert "values" not in s, s  # histograms only, no float samples
        labels = tuple(sorted((k, v) for k, v in s["metric"].items() if k != "__name__"))
        for t, h in s["histograms"]:
            out.setdefault(float(t), {})[labels] = h
    return out


def at_instant(url: str, at: float, headers: dict[str, str]) -> dict[tuple, Hist]:
    out = {}
    for s in query(url, EXPR, at, headers):
        assert "value" not in s, s
        out[tuple(sorted(s["metric"].items()))] = s["histogram"][1]
    return out


def close(a: str, b: str) -> bool:
    x, y = float(a), float(b)
    return x == y or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def same_histogram(a: Hist, b: Hist) -> bool:
    """Equal count and sum, the same buckets (bounds to the digit) with equal counts."""
    ab, bb = a.get("buckets", []), b.get("buckets", [])
    return (close(a["count"], b["count"]) and close(a["sum"], b["sum"])  # type: ignore[arg-type]
            and [x[:3] for x in ab] == [y[:3] for y in bb]  # type: ignore[union-attr]
            and all(close(x[3], y[3]) for x, y in zip(ab, bb, strict=True)))  # type: ignore


@pytest.mark.timeout(240)
def test_histogram_rules_equal_prometheus3(tmp_path: Path, tidewell: TidewellProcess) -> None:
    tidewell.args = ["-ruler.poll-interval=1s"]
    tidewell.start()
    r = httpx.post(f"{tidewell.url}/prometheus/config/v1/rules/ns", content=GROUP,
                   headers=HEADERS)
    assert r.status_code == 202, r.text
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text("groups:\n" + "".join(
        "  " + line + "\n" for line in GROUP.splitlines()).replace("  name:", "- name:", 1))
    port = free_port()
    config = self_scrape_config(port, f"{tidewell.url}/api/v1/push", headers=HEADERS,
                                native_histograms=True)
    config["rule_files"] = [str(rules_file)]
    config["remote_write"][0]["write_relabel_configs"] = [
        {"source_labels": ["__name__"], "regex": "job:.*|ALERTS.*", "action": "drop"}]
    prom = PrometheusProcess(workdir=tmp_path / "prom", port=port, config=config)
    prom.start()
    api = f"{tidewell.url}/prometheus"
    try:
        deadline = time.monotonic() + 120
        while True:  # enough recorded instants on both sides
            ours, theirs = recorded(api, HEADERS), recorded(prom.url, {})
            if len(ours) >= 5 and len(theirs) >= 5:
                break
            assert time.monotonic() < deadline, (ours, theirs, tidewell.logs())
            time.sleep(1)
        compared = nonempty = 0
        for side, rec, other_url, other_headers in (("ours", ours, prom.url, {}),
                                                    ("prometheus", theirs, api, HEADERS)):
            for t, got in rec.items():
                want = at_instant(other_url, t, other_headers)
                assert got.keys() == want.keys(), (side, t, got, want)
                for labels, h in got.items():
                    assert same_histogram(h, want[labels]), (side, t, labels, h, want[labels])
                    compared += 1
                    nonempty += bool(h.get("buckets"))
        assert compared >= 10
        assert nonempty >= 5  # real histograms, not only empty rates
        alerts = httpx.get(f"{api}/api/v1/alerts", headers=HEADERS).json()["data"]["alerts"]
        assert [(a["labels"]["alertname"], a["state"]) for a in alerts] == [
            ("HalfOfRequestsTimed", "firing")], alerts
        groups = httpx.get(f"{api}/api/v1/rules", headers=HEADERS).json()["data"]["groups"]
        assert [r["health"] for g in groups for r in g["rules"]] == ["ok", "ok"], groups
    finally:
        prom.stop()
