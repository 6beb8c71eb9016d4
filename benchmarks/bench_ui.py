"""The web UI measured in a real headless Chromium: first load and time to a 1 h x
100-series graph, Tidewell's ``/ui/`` beside VictoriaMetrics' vmui on the same data.

Run by hand (never as a timed test)::

    PYTHONPATH=src:. python -m benchmarks.bench_ui [--reps 5] [--series 100]

Both servers get the same ``--series`` series x 1 h at 15 s (one remote-write request),
each pinned to core 0; the browser runs on the other core. Every repetition starts a new
browser with its HTTP cache disabled, so each load is a cold first load. Times are read
in the page (``performance.now()``, i.e. since navigation start), polled once per frame:

* *first load*: navigation start → the app is usable (Tidewell: its header and editor
  are built, after its flags call; vmui: its header is rendered) and ``loadEventEnd``;
  bytes transferred (document and resources).
* *link to graph*: opening a shared URL of the graph (query ``<metric>``, 1 h) → the
  chart is drawn with its legend (Tidewell: all series; vmui: it draws 20 of 100 by
  default and says so, which the table notes).
* *re-execute* (Tidewell): clicking Execute on the loaded page → the new chart drawn.

Prometheus is not a column: the Prometheus 3 binary built from the Go module proxy has
no UI assets, and Debian's 2.42 only the retired classic UI.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from benchmarks.launch import Server, TidewellServer, VictoriaMetricsServer, pin_self
from benchmarks.wire import RW1_HEADERS
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

METRIC = "bench_ui_metric"
STEP_S = 15

WAIT_JS = """
const [cond, limit] = [arguments[0], arguments[1]];
const done = arguments[arguments.length - 1];
const t0 = performance.now();
(function poll() {
  let ok = false;
  try { ok = new Function('return (' + cond + ')')(); } catch (e) { ok = false; }
  if (ok) return done(performance.now());
  if (performance.now() - t0 > limit) return done(-1);
  requestAnimationFrame(poll);
})();
"""
BYTES_JS = """
const nav = performance.getEntriesByType('navigation')[0];
const res = performance.getEntriesByType('resource');
return [nav.loadEventEnd, nav.transferSize + res.reduce((a, r) => a + r.transferSize, 0)];
"""


def body(series: int, end_ms: int) -> bytes:
    ts = end_ms - STEP_S * 1000 * np.arange(3600 // STEP_S, -1, -1, dtype=np.int64)
    labels = [Labels.from_dict({"__name__": METRIC, "job": "bench", "instance": f"host-{i}"})
              for i in range(series)]
    batch = SampleBatch(labels=labels,
                        series_index=np.repeat(np.arange(series, dtype=np.int32), len(ts)),
                        timestamps=np.tile(ts, series),
                        values=np.random.default_rng(1).random(series * len(ts)) * 100)
    return bytes(snappy_compress(encode_write_request(batch)))


def load(server: Server, payload: bytes, series: int, query_url: str, end_s: float) -> None:
    r = httpx.post(server.push_url, content=payload, timeout=120, headers=RW1_HEADERS)
    r.raise_for_status()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got = httpx.get(query_url, params={"query": f"count({METRIC})"}, timeout=30).json()
        result = got["data"]["result"]
        if result and int(float(result[0]["value"][1])) == series:
            # One range query like the UI's, so no system is charged its first-query costs.
            httpx.get(query_url + "_range", params={"query": METRIC, "start": end_s - 3600,
                                                    "end": end_s, "step": STEP_S}, timeout=60)
            return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name}: data not queryable")


def browser() -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):
        opts.add_argument(arg)
    d = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    return d


def wait_for(d: webdriver.Chrome, cond: str, limit_ms: int = 60_000) -> float:
    d.set_script_timeout(limit_ms / 1000 + 5)
    t = d.execute_async_script(WAIT_JS, cond, limit_ms)
    if t < 0:
        raise RuntimeError(f"timed out waiting for {cond}")
    return float(t)


SYSTEMS = {
    # name: (first-load URL, ready condition, graph URL template, graph-drawn condition)
    "tidewell": ("/ui/", "document.body.dataset.ready === 'true'",
                 "/ui/#/query?q={q}&range=3600&step=15&tab=graph",
                 "document.querySelector('#graph[data-series=\"{n}\"]') !== null"),
    "victoriametrics": ("/vmui/", "document.querySelector('.vm-header-nav') !== null",
                        "/vmui/#/?g0.expr={q}&g0.range_input=1h&g0.tab=0&g0.step_input=15s",
                        "document.querySelector('.uplot') !== null && "
                        "document.querySelectorAll('.vm-legend-item').length >= 20"),
}


def measure(name: str, base: str, series: int, reps: int) -> dict[str, list[float]]:
    first_url, ready, graph_url, drawn = SYSTEMS[name]
    out: dict[str, list[float]] = {k: [] for k in ("ready", "load", "kb", "graph", "rerun")}
    for _ in range(reps):
        d = browser()
        try:
            d.get(base + first_url)
            out["ready"].append(wait_for(d, ready))
            wait_for(d, "performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
            load_end, size = d.execute_script(BYTES_JS)
            out["load"].append(float(load_end))
            out["kb"].append(size / 1024)
            d.get("about:blank")
            d.get(base + graph_url.format(q=METRIC))
            out["graph"].append(wait_for(d, drawn.replace("{n}", str(series))))
            if name == "tidewell":
                t0 = d.execute_script(
                    "window.tidewellStats.lastGraph = null; const t = performance.now();"
                    "document.getElementById('run').click(); return t;")
                t1 = wait_for(d, "window.tidewellStats.lastGraph !== null && "
                              f"window.tidewellStats.lastGraph.series === {series}")
                out["rerun"].append(t1 - t0)
        finally:
            d.quit()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--series", type=int, default=100)
    ap.add_argument("--systems", default="tidewell,victoriametrics")
    args = ap.parse_args()
    pin_self({1})
    end = int(time.time() * 1000) // 15_000 * 15_000
    payload = body(args.series, end)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        for name in args.systems.split(","):
            server: Server = (TidewellServer if name == "tidewell" else VictoriaMetricsServer)(
                Path(tmp) / name)
            with server:
                server.wait_ready()
                load(server, payload, args.series, server.api_url("query"), end / 1000)
                m = measure(name, server.base_url, args.series, args.reps)
            print(name, {k: [round(x) for x in v] for k, v in m.items()}, flush=True)
            med = {k: statistics.median(v) if v else None for k, v in m.items()}
            rows.append((name, med))
    print(f"| UI ({args.series} series x 1 h at 15 s, median of {args.reps} cold loads) "
          "| app ready | load event | transferred | link → graph drawn | re-execute → drawn |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, med in rows:
        rerun = f"{med['rerun']:.0f} ms" if med["rerun"] is not None else "n/a"
        print(f"| {name} | {med['ready']:.0f} ms | {med['load']:.0f} ms | {med['kb']:.0f} KiB "
              f"| {med['graph']:.0f} ms | {rerun} |")


if __name__ == "__main__":
    main()
