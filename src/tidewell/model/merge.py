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
    order, keep = _first_copy_wins(ts)
    ts, vals = ts[order], vals[order]
    starts = _start_timestamps(parts)
    if starts is not None:
        starts = starts[order][keep]
    return Series(parts[0].labels, ts[keep], vals[keep], starts,
                  merge_histograms([p.histograms for p in parts]))


def _first_copy_wins(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorting order of ``ts`` and, over the sorted values, which to keep: one per
    timestamp, the earliest copy's (a stable sort keeps copies in their given order)."""
    order = np.argsort(ts, kind="stable")
    sorted_ts = ts[order]
    keep = np.ones(sorted_ts.shape[0], dtype=bool)
    keep[1:] = sorted_ts[1:] != sorted_ts[:-1]
    return order, keep


def _start_timestamps(parts: Sequence[Series] | Sequence[HistogramSamples]) -> np.ndarray | None:
    """The copies' start timestamps end to end, or None when no copy has any; a copy
    without them contributes 0 ("unknown"), as the engine reads it."""
    if all(p.start_timestamps is None for p in parts):
        return None
    return np.concatenate([
        p.start_timestamps if p.start_timestamps is not None
        else np.zeros(len(p), dtype=np.int64)
        for p in parts
    ])


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
    order, keep = _first_copy_wins(ts)
    kept = order[keep]
    starts = _start_timestamps(present)
    if starts is not None:
        starts = starts[kept]
    return HistogramSamples(ts[kept], [values[i] for i in kept.tolist()], starts)
