"""Reading a head through the ``tidewell.model.Querier`` seam."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tidewell.model.matchers import Matcher
from tidewell.model.samples import Series
from tidewell.model.shard import split_shard
from tidewell.tsdb.head.head import Head

__all__ = ["HeadQuerier"]


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

    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        head = self.head
        out: list[Series] = []
        with head.lock:
            refs = self._refs(matchers)
            if refs.shape[0] == 0:
                return out
            staged = head.staging.sorted_view()
            for ref in sorted(refs.tolist(), key=head.labels.__getitem__):
                ts, vals = head.series_samples(ref, self.mint, self.maxt, staged)
                hists = head.hists.histograms(ref, self.mint, self.maxt)
                if ts.shape[0] or hists is not None:
                    out.append(Series(head.labels[ref], ts, vals, histograms=hists))
        return out

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
