"""A range function over more samples than ``-querier.max-samples``: in-memory engine + head.

Run: ``python -m benchmarks.bench_sharded_range [--series 2000] [--hours 24] [--limit 5000000]
[--wire]``.

``count_over_time(m[<hours>h])`` (an instant query) over ``--series`` series scraped every
15 s: ``series x hours x 240`` samples, more than ``--limit`` (the shape of issue 14's
10k series x 1 d = 57.6M against the 50M default, scaled down). Each configuration runs in
a fresh process (one head filled in it, kernels warmed), reporting the median wall time of
3 runs of the query and the peak RSS growth while they ran (``/proc/self/clear_refs``
resets the peak after the
head is filled):

* ``limit``: max-samples = ``--limit``; the engine evaluates the call in shards of the
  series (before: 422 "too many samples" from holding the whole selection);
* ``raised``: max-samples 10x higher, so the selection is evaluated at once.

Without ``--wire``, no HTTP, no network: the engine's and the head's cost alone. With
``--wire`` the head is served over the internal HTTP routes (uvicorn on loopback, in the
same process, so peak RSS counts both ends) and queried through ``RemoteQueryable``, with
one more configuration:

* ``no-hint``: max-samples = ``--limit`` but the samples hint does not reach the source
  (stripped before ``RemoteQueryable``, as before ``ReadRequest.max_samples``): the remote
  answers the whole selection, the querier finds it too big and re-selects in shards.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from tests.support.rss import PeakRss
from tidewell.model import Labels, Matcher, Queryable, SampleBatch, SelectHints, Series
from tidewell.promql.engine import Engine, EngineOptions
from tidewell.tsdb.head import Head, HeadQuerier

INTERVAL = 15_000
ROUNDS_PER_APPEND = 60
RUNS = 3


class _HeadQueryable:
    def __init__(self, head: Head) -> None:
        self.head = head

    def querier(self, tenant: str, mint: int, maxt: int) -> HeadQuerier:
        return HeadQuerier(self.head, mint, maxt)


class _NoSamplesHint:
    """A queryable whose selects drop ``SelectHints.max_samples`` (the wire before field 9)."""

    def __init__(self, inner: Queryable) -> None:
        self.inner = inner

    def querier(self, tenant: str, mint: int, maxt: int) -> _NoSamplesHint:
        self.q = self.inner.querier(tenant, mint, maxt)
        return self

    def select(self, matchers: Sequence[Matcher],
               hints: SelectHints | None = None) -> list[Series]:
        if hints is not None:
            hints = dataclasses.replace(hints, max_samples=0)
        return self.q.select(matchers, hints)


def _served(q: Queryable) -> tuple[Queryable, Callable[[], None]]:
    """``q`` behind the internal routes on loopback, as a ``RemoteQueryable``; and a stop."""
    import uvicorn
    from starlette.applications import Starlette

    from tidewell.api.internal import internal_query_routes
    from tidewell.querier.remote import RemoteQueryable
    from tidewell.util.ports import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=internal_query_routes(q)),
                                           host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    remote = RemoteQueryable(f"http://127.0.0.1:{port}", timeout_s=600)

    def stop() -> None:
        remote.close()
        server.should_exit = True
        thread.join(timeout=10)

    return remote, stop


def _fill(n: int, rounds: int) -> Head:
    head = Head(block_range_ms=1 << 40)
    series = [Labels([("__name__", "m"), ("i", str(i))]) for i in range(n)]
    idx = np.tile(np.arange(n, dtype=np.int32), ROUNDS_PER_APPEND)
    for r0 in range(0, rounds, ROUNDS_PER_APPEND):
        k = min(ROUNDS_PER_APPEND, rounds - r0)
        ts = np.repeat((r0 + np.arange(k, dtype=np.int64)) * INTERVAL, n)
        head.append(SampleBatch(labels=series, series_index=idx[:n * k], timestamps=ts,
                                values=ts.astype(np.float64) / 1000 + idx[:n * k]))
    return head


def one(series: int, hours: int, limit: int, mode: str) -> dict[str, object]:
    """Fill a head, run the query under ``limit``; median time and peak RSS growth.
    ``mode``: "local", "wire" (served over HTTP) or "no-hint" (wire, hint stripped)."""
    rounds = hours * 3_600_000 // INTERVAL
    q: Queryable = _HeadQueryable(_fill(series, rounds))
    stop = None
    if mode != "local":
        q, stop = _served(q)
        if mode == "no-hint":
            q = _NoSamplesHint(q)
    end = rounds * INTERVAL - 1
    engine = Engine(EngineOptions(max_samples=limit, timeout_s=600))
    engine.warm_up(background=False)
    engine.instant_query(q, "t", "count_over_time(m[5m])", end)
    rss = PeakRss()
    times = []
    for _ in range(RUNS):
        t0 = time.monotonic()
        try:
            res = engine.instant_query(q, "t", f"count_over_time(m[{hours}h])", end, stats="all")
            outcome = f"{len(res.series)} series, peakSamples {res.stats.peak_samples:,}"
        except Exception as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        times.append(time.monotonic() - t0)
    if stop is not None:
        stop()
    return {"limit": limit, "seconds": round(sorted(times)[RUNS // 2], 2),
            "peak_rss_mb": round(rss.peak_mib()), "outcome": outcome}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--limit", type=int, default=5_000_000)
    ap.add_argument("--wire", action="store_true",
                    help="serve the head over the internal HTTP routes")
    ap.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="local", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.series, a.hours, a.one, a.mode)))
        return
    total = a.series * a.hours * 3_600_000 // INTERVAL
    print(f"count_over_time(m[{a.hours}h]) over {a.series:,} series = {total:,} samples"
          f"{' over the internal wire' if a.wire else ''}")
    configs = [("limit", a.limit, "wire" if a.wire else "local"),
               ("raised", 10 * a.limit, "wire" if a.wire else "local")]
    if a.wire:
        configs.insert(1, ("no-hint", a.limit, "no-hint"))
    for name, limit, mode in configs:
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_sharded_range",
                              "--series", str(a.series), "--hours", str(a.hours),
                              "--one", str(limit), "--mode", mode],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:7s} max-samples {limit:>12,}: {r['seconds']:6.2f} s, "
              f"peak RSS +{r['peak_rss_mb']} MB, {r['outcome']}")


if __name__ == "__main__":
    main()
