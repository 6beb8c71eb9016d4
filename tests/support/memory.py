"""A fixed dataset behind the read seam (``Querier``), for tests of what sits above it."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from tidewell.model import Labels, Matcher, Series

Samples = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]


class DictQuerier:
    """Series of ``data`` with samples in ``[mint, maxt]``; ``delay_s`` makes a slow peer."""

    def __init__(
        self, data: Mapping[Labels, Samples], mint: int, maxt: int, *, delay_s: float = 0.0
    ) -> None:
        self.data, self.mint, self.maxt, self.delay_s = data, mint, maxt, delay_s

    def select(self, matchers: Sequence[Matcher], hints: object = None) -> list[Series]:
        if self.delay_s:
            time.sleep(self.delay_s)
        out = []
        for lb, (ts, vs) in sorted(self.data.items()):
            if all(m.matches_labels(lb) for m in matchers):
                keep = (ts >= self.mint) & (ts <= self.maxt)
                if keep.any():
                    out.append(Series(lb, ts[keep], vs[keep]))
        return out

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({n for s in self.select(matchers) for n, _ in s.labels})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({s.labels.get(name) for s in self.select(matchers)} - {""})
