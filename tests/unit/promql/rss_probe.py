"""Run one query in a fresh process and report how far its memory peak rose.

Usage: ``python -m tests.unit.promql.rss_probe '<json>'`` with keys ``query``, ``opts``
(``EngineOptions`` fields), ``series``/``samples``/``interval_ms`` (the dataset of
``m{i=...}``), ``at`` (instant query time, ms) or ``range`` ([start, end, step] ms).
Prints one JSON line: peak RSS growth over the baseline (``/proc/self/clear_refs`` resets
the peak after data and kernels are loaded), RSS growth left afterwards, the error if any,
and the wall time. A fresh process keeps other tests' allocations out of the figures.
"""

from __future__ import annotations

import gc
import json
import sys
import time

import numpy as np

from tests.support.memory import DictQuerier
from tests.support.rss import PeakRss
from tidewell.model import Labels
from tidewell.promql.engine import Engine, EngineOptions


class _Data:
    def __init__(self, series: int, samples: int, interval_ms: int) -> None:
        ts = np.arange(samples, dtype=np.int64) * interval_ms
        self.data = {Labels([("__name__", "m"), ("i", str(i))]):
                     (ts, np.arange(samples, dtype=np.float64) + i) for i in range(series)}

    def querier(self, tenant: str, mint: int, maxt: int) -> DictQuerier:
        return DictQuerier(self.data, mint, maxt)


def main(spec: dict) -> dict:
    data = _Data(spec.get("series", 0), spec.get("samples", 0), spec.get("interval_ms", 15_000))
    engine = Engine(EngineOptions(**spec.get("opts", {})))
    engine.warm_up(background=False)
    Engine().instant_query(data, "t", "count_over_time(m[5m])", 600_000)
    gc.collect()
    rss = PeakRss()
    err, kind, n = None, None, 0
    t0 = time.monotonic()
    try:
        if "range" in spec:
            start, end, step = spec["range"]
            res = engine.range_query(data, "t", spec["query"], start, end, step)
        else:
            res = engine.instant_query(data, "t", spec["query"], spec["at"])
        n = len(res.series)
        del res
    except Exception as e:  # reported to the test, which asserts the type and message
        err, kind = str(e), type(e).__name__
    took = time.monotonic() - t0
    gc.collect()
    return {"peak_mb": rss.peak_mib(), "left_mb": rss.left_mib(),
            "error": err, "kind": kind, "series": n, "seconds": took}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
