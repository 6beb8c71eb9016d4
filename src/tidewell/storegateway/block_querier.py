"""The store-gateway's ``Querier``: one tenant's blocks over one time range.

Each block plans its part of a query (matching series, their verified chunk
bytes); the plans are then merged by labels and all chunks decoded in one
vectorised call, already in output order (series by labels, then blocks by
time), so no per-series concatenation is needed. Samples of a series seen in
overlapping blocks (e.g. two ingester zones before compaction) are
deduplicated by timestamp, keeping the first block's sample.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tidewell.model.histogram import Histogram, HistogramSamples
from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher
from tidewell.model.samples import Series
from tidewell.model.storage import SelectHints
from tidewell.storegateway import metrics as m
from tidewell.storegateway.bucket_block import BucketBlock, ChunkPlan
from tidewell.tsdb.chunkenc import ENCODING_XOR, CorruptBlockError
from tidewell.tsdb.chunkenc.by_series import (
    chunk_sample_counts,
    decode_by_series,
    split_by_series,
)
from tidewell.tsdb.chunkenc.histogram import decode_histogram_chunk
from tidewell.util.executors import shared_executor

__all__ = ["BucketStoreQuerier", "decode_plans"]

_BLOCK_CONCURRENCY = 4
"""Per-block work in flight (fetches wait on the bucket), over all queries of the process."""


def decode_plans(plans: Sequence[ChunkPlan], mint: int, maxt: int,
                 hints: SelectHints | None = None) -> list[Series]:
    """Series (sorted by labels) with their samples in ``[mint, maxt]`` from ``plans``.

    ``plans`` come in block order (by min time), which decides which duplicate
    sample wins. ``hints`` are checked before anything is decoded.
    """
    if not plans:
        return []
    hints = hints or SelectHints()
    ids: dict[Labels, int] = {}
    plan_ids = []
    for p in plans:
        plan_ids.append(
            np.fromiter((ids.setdefault(lb, len(ids)) for lb in p.labels), np.int64, len(p.labels))
        )
    labels = list(ids)
    hints.check(len(labels))
    by_label = sorted(range(len(labels)), key=labels.__getitem__)
    rank = np.empty(len(labels), dtype=np.int64)
    rank[by_label] = np.arange(len(labels), dtype=np.int64)
    sorted_labels = [labels[i] for i in by_label]

    if len(plans) == 1:
        buf = plans[0].buf
        bases = [0]
    else:
        buf = np.concatenate([p.buf for p in plans])
        bases = np.concatenate([[0], np.cumsum([p.buf.shape[0] for p in plans])[:-1]]).tolist()
    owner = np.concatenate([rank[ids_[p.owner]] for p, ids_ in zip(plans, plan_ids, strict=True)])
    starts = np.concatenate([p.starts + b for p, b in zip(plans, bases, strict=True)])
    ends = np.concatenate([p.ends + b for p, b in zip(plans, bases, strict=True)])
    encs = np.concatenate([p.encodings for p in plans])
    cmin = np.concatenate([p.mints for p in plans])
    cmax = np.concatenate([p.maxts for p in plans])
    order = np.argsort(owner, kind="stable")  # by series, then block, then time
    owner, starts, ends = owner[order], starts[order], ends[order]
    encs, cmin, cmax = encs[order], cmin[order], cmax[order]
    xor = encs == ENCODING_XOR
    hists: dict[int, HistogramSamples] = {}
    if not xor.all():
        hists = _decode_histograms(buf, owner[~xor], starts[~xor], ends[~xor], encs[~xor],
                                   sorted_labels, mint, maxt)
        owner, starts, ends, cmin, cmax = owner[xor], starts[xor], ends[xor], cmin[xor], cmax[xor]

    if hints.counts_samples:
        inside = (cmin >= mint) & (cmax <= maxt)
        hints.check(len(labels), int(chunk_sample_counts(buf, starts[inside]).sum()))
    ts, vs, per_series, bad = decode_by_series(buf, owner, starts, ends, len(labels), mint, maxt)
    if bad >= 0:
        m.CORRUPTED_DATA.labels("chunks").inc()
        raise CorruptBlockError(
            f"XOR chunk of series {sorted_labels[int(owner[bad])]} does not decode"
        )
    ts_parts, vs_parts = split_by_series(ts, vs, per_series)
    present = np.flatnonzero(per_series).tolist()
    if hists:
        present = sorted(set(present).union(hists))
    return [
        Series(sorted_labels[i], ts_parts[i], vs_parts[i], histograms=hists.get(i))
        for i in present
    ]


def _decode_histograms(
    buf: npt.NDArray[np.uint8],
    owner: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    encs: npt.NDArray[np.uint8],
    labels: list[Labels],
    mint: int,
    maxt: int,
) -> dict[int, HistogramSamples]:
    """Histogram chunks (one Python decode each: they are rare) per series owner,
    samples in ``[mint, maxt]``, sorted, the first copy (earliest block) winning."""
    per: dict[int, tuple[list[int], list[Histogram]]] = {}
    for o, s, e, enc in zip(owner.tolist(), starts.tolist(), ends.tolist(), encs.tolist(),
                            strict=True):
        try:
            ts, hs = decode_histogram_chunk(buf[s:e].tobytes(), enc)
        except CorruptBlockError:
            m.CORRUPTED_DATA.labels("chunks").inc()
            raise CorruptBlockError(
                f"histogram chunk of series {labels[o]} does not decode") from None
        acc = per.setdefault(o, ([], []))
        for t, h in zip(ts.tolist(), hs, strict=True):
            if mint <= t <= maxt:
                acc[0].append(t)
                acc[1].append(h)
    out: dict[int, HistogramSamples] = {}
    for o, (ts, hs) in per.items():
        if not ts:
            continue
        if any(b <= a for a, b in itertools.pairwise(ts)):
            order = sorted(range(len(ts)), key=ts.__getitem__)  # stable: first copy first
            keep = [i for n, i in enumerate(order) if n == 0 or ts[order[n - 1]] != ts[i]]
            ts, hs = [ts[i] for i in keep], [hs[i] for i in keep]
        out[o] = HistogramSamples(np.array(ts, dtype=np.int64), hs)
    return out


class BucketStoreQuerier:
    """``tidewell.model.Querier`` over blocks (already filtered to the tenant).

    ``queried_blocks``: IDs of every block given, in or out of the time range; a
    querier that asked for chosen blocks learns from it which ones were searched.
    """

    def __init__(self, blocks: Sequence[BucketBlock], mint: int, maxt: int) -> None:
        self.mint = mint
        self.maxt = maxt
        self.queried_blocks = sorted(b.id for b in blocks)
        self.blocks = sorted(
            (b for b in blocks if b.overlaps(mint, maxt)),
            key=lambda b: (b.meta.min_time, b.id),
        )

    def select(self, matchers: Sequence[Matcher],
               hints: SelectHints | None = None) -> list[Series]:
        start = time.perf_counter()
        if len(self.blocks) > 1:  # bucket I/O and compiled kernels release the GIL
            pool = shared_executor("sg-block", _BLOCK_CONCURRENCY)
            got = list(pool.map(lambda b: b.plan(matchers, self.mint, self.maxt), self.blocks))
        else:
            got = [b.plan(matchers, self.mint, self.maxt) for b in self.blocks]
        out = decode_plans([p for p in got if p is not None], self.mint, self.maxt, hints)
        m.SERIES_GET_ALL_DURATION.observe(time.perf_counter() - start)
        return out

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        names: set[str] = set()
        for block in self.blocks:
            if not matchers:
                names.update(block.index.label_names())
            else:
                for lb in block.series_labels(matchers):
                    names.update(n for n, _ in lb)
        return sorted(names)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        values: set[str] = set()
        for block in self.blocks:
            if not matchers:
                values.update(block.index.label_values(name))
            else:
                values.update(lb.get(name) for lb in block.series_labels(matchers))
        values.discard("")
        return sorted(values)
