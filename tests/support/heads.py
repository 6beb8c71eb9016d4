"""A head filled as by regular scrapes: the source behind select and query-limit tests."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tidewell.model import Labels, SampleBatch
from tidewell.tsdb.head import Head

__all__ = ["scraped_head"]

CUT_EVERY = 60
"""Rounds between chunk cuts (and one after the last): selects count chunks, not staged
samples."""


def scraped_head(series: Iterable[int], rounds: int, step_ms: int) -> Head:
    """Series ``m{i="<i, 2 digits>"}`` for each ``i`` of ``series``, one sample every
    ``step_ms`` from 0 for ``rounds`` rounds; the k-th series' value at round r is k * r."""
    head = Head()
    labels = [Labels([("__name__", "m"), ("i", f"{i:02d}")]) for i in series]
    index = np.arange(len(labels), dtype=np.int32)
    for r in range(rounds):
        head.append(SampleBatch(labels, index, np.full(len(labels), r * step_ms, dtype=np.int64),
                                index.astype(np.float64) * r))
        if r % CUT_EVERY == CUT_EVERY - 1 or r == rounds - 1:
            head.cut_chunks()
    return head
