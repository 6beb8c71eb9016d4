"""Query statistics as Prometheus reports them with ``stats=…`` (``util/stats``).

Timings are seconds. Samples follow Prometheus's counting: a vector selector
counts one sample per series per step it has a value at, a range selector the
samples in each step's window; ``peakSamples`` is the most samples one node held
(the number ``-querier.max-samples`` limits). ``stats=all`` adds the count per
step; selectors inside a subquery run on the subquery's own steps and count at
the query's last step, as Prometheus attributes a subquery's samples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["QueryStats", "SampleStats"]

_TIMINGS = ("evalTotalTime", "resultSortTime", "queryPreparationTime", "innerEvalTime",
            "execQueueTime", "execTotalTime")


class SampleStats:
    """Samples counted while one query evaluates over the step grid ``times``."""

    def __init__(self, times: np.ndarray, per_step: bool) -> None:
        self.times = times
        self.total = 0
        self.per_step = np.zeros(len(times), dtype=np.int64) if per_step else None

    def add(self, times: np.ndarray, counts: np.ndarray) -> None:
        """``counts[i]`` samples loaded for step ``times[i]`` of some evaluator's grid."""
        n = int(counts.sum())
        self.total += n
        if self.per_step is None or not len(self.per_step):
            return
        if times is self.times or (len(times) == len(self.times)
                                   and np.array_equal(times, self.times)):
            self.per_step += counts.astype(np.int64, copy=False)
        else:
            self.per_step[-1] += n


@dataclass
class QueryStats:
    """What ``data.stats`` holds: timings, and samples when counted."""

    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_TIMINGS, 0.0))
    samples: SampleStats | None = None
    peak_samples: int = 0
    started: float = field(default_factory=time.perf_counter)

    def json(self) -> dict[str, Any]:
        """Prometheus's ``BuiltinStats`` JSON (timestamps of per-step counts in seconds)."""
        out: dict[str, Any] = {"timings": dict(self.timings)}
        if self.samples is not None:
            s: dict[str, Any] = {}
            if self.samples.per_step is not None:
                s["totalQueryableSamplesPerStep"] = [
                    [t // 1000 if t % 1000 == 0 else t / 1000, int(v)]
                    for t, v in zip(self.samples.times.tolist(), self.samples.per_step.tolist(),
                                    strict=True)]
            s["totalQueryableSamples"] = self.samples.total
            s["peakSamples"] = self.peak_samples
            out["samples"] = s
        return out
