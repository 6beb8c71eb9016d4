"""Series data in columnar form: int64 millisecond timestamps, float64 values."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tidewell.model.histogram import HistogramSamples
from tidewell.model.labels import Labels

STALE_NAN_BITS = 0x7FF0000000000002
"""Prometheus's staleness marker: a NaN with this exact bit pattern."""


def stale_nan() -> float:
    return struct.unpack("<d", STALE_NAN_BITS.to_bytes(8, "little"))[0]


def is_stale_nan(value: float) -> bool:
    return struct.pack("<d", value) == STALE_NAN_BITS.to_bytes(8, "little")


def stale_mask(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Vectorised ``is_stale_nan`` over an array of values."""
    return values.view(np.uint64) == np.uint64(STALE_NAN_BITS)


@dataclass(slots=True)
class Series:
    """One series' samples in a time range, sorted by timestamp, no duplicates.

    ``timestamps`` is int64 milliseconds since the epoch; ``values`` float64 and
    may contain staleness markers (see ``stale_mask``). ``start_timestamps``
    (optional, same length, int64 ms, 0 = unknown) holds each sample's start
    ("created") time; None when the source has none, which costs nothing.

    ``histograms`` holds the series' native histogram samples, apart from the
    floats as in Prometheus (a series may switch between the two over time);
    None when it has none. ``len()`` counts float samples only, because arrays
    are sized by it; ``num_samples`` counts both.
    """

    labels: Labels
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    start_timestamps: npt.NDArray[np.int64] | None = None
    histograms: HistogramSamples | None = None

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    @property
    def num_samples(self) -> int:
        """Float and histogram samples together."""
        h = self.histograms
        return len(self) + (len(h) if h is not None else 0)
