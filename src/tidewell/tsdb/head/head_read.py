"""Reading a head through the ``tidewell.model.Querier`` seam."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from operator import itemgetter

import numpy as np
import numpy.typing as npt
from numba import njit

from tidewell.model.matchers import Matcher
from tidewell.model.samples import Series
from tidewell.model.shard import split_shard
from tidewell.model.storage import SelectHints
from tidewell.tsdb.chunkenc import CorruptChunkError
from tidewell.tsdb.chunkenc.by_series import (
    chunk_sample_counts,
    decode_by_series,
    split_by_series,
)
from tidewell.tsdb.head.head import Head

__all__ = ["HeadQuerier"]


@njit(cache=True, nogil=True)
def _interleave(ts, vbits, counts, own, sts, sbits, out_ts, out_bits):  # type: ignore[no-untyped-def]
    """Each series' chunk samples, then its staged ones (``own``: ascending series index);
    values moved as bits, so staleness markers keep their NaN payload."""
    r = 0
    s = 0
    w = 0
    for i in range(counts.shape[0]):
        for _ in range(counts[i]):
            out_ts[w] = ts[r]
            out_bits[w] = vbits[r]
            r += 1
            w += 1
        while s < own.shape[0] and own[s] == i:
            out_ts[w] = sts[s]
            out_bits[w] = sbits[s]
            s += 1
            w += 1


class HeadQuerier:
    """Selects series of one head within ``[mint, maxt]`` (inclusive, milliseconds)."""

    def __init__(self, head: Head, mint: int, maxt: int) -> None:
        self.head = head
        self.mint = int(mint)
        self.maxt = int(maxt)

    def _refs(self, matchers: Sequence[Matcher]) -> npt.NDArray[np.int32]:
        head = self.head
        shard, matchers = split_shard(matchers)
        refs = head.postings.select(matchers, head.all_refs()) if matchers else head.all_refs()
        if shard is not None:  # before any chunk is read
            refs = refs[head.shard_hashes.keep(shard, refs, head.labels.__getitem__)]
        return head.refs_in_range(refs, self.mint, self.maxt)

    def select(self, matchers: Sequence[Matcher],
               hints: SelectHints | None = None) -> list[Series]:
        head = self.head
        hints = hints or SelectHints()
        with head.lock:
            refs = self._refs(matchers)
            if refs.shape[0] == 0:
                return []
            hints.check(int(refs.shape[0]))
            order = sorted(refs.tolist(), key=head.labels.__getitem__)
            sel = np.asarray(order, dtype=np.int64)
            ts_parts, vs_parts, counts = self._float_samples(sel, hints)
            hists = head.hists
            hist_of = {i: h for i, ref in enumerate(order) if ref in hists.series
                       and (h := hists.histograms(ref, self.mint, self.maxt)) is not None}
            return [Series(head.labels[ref], ts_parts[i], vs_parts[i], histograms=hist_of.get(i))
                    for i, ref in enumerate(order) if counts[i] or i in hist_of]

    def _float_samples(self, sel: npt.NDArray[np.int64], hints: SelectHints
                       ) -> tuple[list[npt.NDArray[np.int64]], list[npt.NDArray[np.float64]],
                                  list[int]]:
        """Float samples of refs ``sel`` in range: every chunk decoded in one call, then
        the staged samples placed after each series' chunk samples (caller holds the lock)."""
        head, mint, maxt = self.head, self.mint, self.maxt
        n = int(sel.shape[0])
        closed = [head.chunks[r] or () for r in sel.tolist()]
        per = np.fromiter(map(len, closed), np.int64, n)
        flat = list(chain.from_iterable(closed))
        oc = head.open
        has_open = np.flatnonzero(oc.count[sel] > 0)
        cmin = np.concatenate([np.fromiter(map(itemgetter(0), flat), np.int64, len(flat)),
                               oc.mint[sel[has_open]]])
        cmax = np.concatenate([np.fromiter(map(itemgetter(1), flat), np.int64, len(flat)),
                               oc.maxt[sel[has_open]]])
        datas = list(map(itemgetter(2), flat))
        lens = np.fromiter(map(len, datas), np.int64, len(datas))
        closed_buf = np.frombuffer(b"".join(datas), dtype=np.uint8)
        del datas
        closed_starts = np.cumsum(lens) - lens
        if hints.counts_samples:  # before copying the chunks again
            inside = (cmin >= mint) & (cmax <= maxt)
            nc = len(flat)
            hints.check(n, int(chunk_sample_counts(closed_buf, closed_starts[inside[:nc]]).sum())
                        + int(oc.count[sel[has_open]][inside[nc:]].sum()))
        buf = np.concatenate([closed_buf, oc.arena])
        starts = np.concatenate([closed_starts,
                                 closed_buf.shape[0] + oc.off[sel[has_open]].astype(np.int64)])
        ends = starts + np.concatenate([lens, oc.nbytes[sel[has_open]].astype(np.int64)])
        owner = np.concatenate([np.repeat(np.arange(n, dtype=np.int64), per), has_open])
        want = np.flatnonzero((cmin <= maxt) & (cmax >= mint))
        want = want[np.argsort(owner[want], kind="stable")]  # by series, closed before open
        ts, vs, counts, bad = decode_by_series(buf, owner[want], starts[want], ends[want], n,
                                               mint, maxt)
        if bad >= 0:
            raise CorruptChunkError(f"head chunk of {head.labels[int(sel[owner[want][bad]])]} "
                                    "does not decode")
        ts, vs, counts = self._with_staged(sel, ts, vs, counts)
        ts_parts, vs_parts = split_by_series(ts, vs, counts)
        return ts_parts, vs_parts, counts.tolist()

    def _with_staged(self, sel: npt.NDArray[np.int64], ts: npt.NDArray[np.int64],
                     vs: npt.NDArray[np.float64], counts: npt.NDArray[np.int64]
                     ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64],
                                npt.NDArray[np.int64]]:
        """Staged (not yet chunked) samples of ``sel`` in range, after each series' own."""
        sr, st, sv = self.head.staging.sorted_view()
        if sr.shape[0] == 0:
            return ts, vs, counts
        # Staged samples are ordered by ref: each selected series' run is found by a
        # binary search, so the cost follows the selection, not everything staged.
        key = sel.astype(sr.dtype, copy=False)
        lo = sr.searchsorted(key, side="left")
        run = sr.searchsorted(key, side="right") - lo
        total_runs = int(run.sum())
        if total_runs == 0:
            return ts, vs, counts
        own = np.repeat(np.arange(sel.shape[0], dtype=np.int64), run)
        keep = np.repeat(lo - (np.cumsum(run) - run), run) + np.arange(total_runs)
        inside = (st[keep] >= self.mint) & (st[keep] <= self.maxt)
        if not bool(inside.all()):
            keep, own = keep[inside], own[inside]
            if keep.shape[0] == 0:
                return ts, vs, counts
        extra = np.bincount(own, minlength=counts.shape[0])
        total = counts + extra
        out_ts = np.empty(int(total.sum()), dtype=np.int64)
        out_vs = np.empty(out_ts.shape[0], dtype=np.float64)
        _interleave(ts, vs.view(np.uint64), counts, own, st[keep], sv[keep].view(np.uint64),
                    out_ts, out_vs.view(np.uint64))
        return out_ts, out_vs, total

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        head = self.head
        with head.lock:
            refs = self._refs(matchers)
            if not matchers and refs.shape[0] == head.active_series:
                return head.postings.label_names()
            names: set[str] = set()
            labels = head.labels
            for ref in refs.tolist():
                names.update(n for n, _ in labels[ref])
        return sorted(names)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        head = self.head
        with head.lock:
            refs = self._refs(matchers)
            if not matchers and refs.shape[0] == head.active_series:
                return head.postings.label_values(name)
            values: set[str] = set()
            labels = head.labels
            for ref in refs.tolist():
                value = labels[ref].get(name)
                if value:
                    values.add(value)
        return sorted(values)
