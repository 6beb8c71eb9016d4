"""Merging copies of one series: zone replicas, head and blocks, overlapping blocks."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from tidewell.model.histogram import HistogramSamples
from tidewell.model.samples import Series


def merge_series(parts: Sequence[Series]) -> Series:
    """One series from several copies of it, timestamps unique and sorted.

    On a timestamp present in several copies the first copy wins, which only
    matters for a sample that differs between replicas. Floats and histograms
    merge apart, each by the same rule.
    """
    if len(parts) == 1:
        return parts[0]
    disjoint = _disjoint_order(parts)
    if disjoint is not None:  # head and blocks cover separate times: no sort needed
        return Series(parts[0].labels,
                      np.concatenate([parts[i].timestamps for i in disjoint]),
                      np.concatenate([parts[i].values for i in disjoint]), None,
                      merge_histograms([p.histograms for p in parts]))
    ts = np.concatenate([p.timestamps for p in parts])
    vals = np.concatenate([p.values for p in parts])
    order = np.argsort(ts, kind="stable")  # stable: earlier copies win ties
    ts, vals = ts[order], vals[order]
    keep = np.ones(ts.shape[0], dtype=bool)
    keep[1:] = ts[1:] != ts[:-1]
    starts = None
    if any(p.start_timestamps is not None for p in parts):
        # A copy without start timestamps contributes 0 ("unknown"), as the engine reads it.
        starts = np.concatenate([
            p.start_timestamps if p.start_timestamps is not None
            else np.zeros(len(p), dtype=np.int64)
            for p in parts
        ])[order][keep]
    return Series(parts[0].labels, ts[keep], vals[keep], starts,
                  merge_histograms([p.histograms for p in parts]))


def _disjoint_order(parts: Sequence[Series]) -> list[int] | None:
    """The order in which float-only copies without start timestamps follow each
    other in time without overlapping, or None (then they need a sort)."""
    if any(p.start_timestamps is not None for p in parts):
        return None
    full = [i for i, p in enumerate(parts) if len(p)]
    if not full:
        return None
    full.sort(key=lambda i: int(parts[i].timestamps[0]))
    for a, b in pairwise(full):
        if int(parts[a].timestamps[-1]) >= int(parts[b].timestamps[0]):
            return None
    return full


def merge_histograms(parts: Sequence[HistogramSamples | None]) -> HistogramSamples | None:
    """Histogram samples of several copies, timestamps unique and sorted, first copy wins."""
    present = [p for p in parts if p is not None and len(p)]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    ts = np.concatenate([p.timestamps for p in present])
    values = [h for p in present for h in p.values]
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    keep = np.ones(ts.shape[0], dtype=bool)
    keep[1:] = ts[1:] != ts[:-1]
    kept = order[keep]
    starts = None
    if any(p.start_timestamps is not None for p in present):
        # A copy without start timestamps contributes 0 ("unknown"), as for floats.
        starts = np.concatenate([
            p.start_timestamps if p.start_timestamps is not None
            else np.zeros(len(p), dtype=np.int64)
            for p in present
        ])[kept]
    return HistogramSamples(ts[keep], [values[i] for i in kept.tolist()], starts)
