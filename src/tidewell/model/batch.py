"""A decoded write request in columnar form: the unit that flows from a log record into a head."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tidewell.model.exemplar import Exemplar, MetricMetadata
from tidewell.model.histogram import Histogram
from tidewell.model.labels import Labels


@dataclass(slots=True)
class SampleBatch:
    """Float samples of many series, flattened.

    ``series_index[i]`` says which entry of ``labels`` sample ``i`` belongs to.
    Keeping samples in three flat arrays (instead of one object per series)
    lets decoders and heads work a whole request at a time.

    ``series_keys``, when a decoder provides it, holds one 128-bit hash of each
    entry's label encoding (shape ``(len(labels), 2)``): a head finds the series
    it already has from these alone, and decoders may then build ``labels``
    entries only when asked (``labels`` is any sequence).

    Native histograms, exemplars and metadata ride beside the floats:
    ``hist_series_index[i]``/``hist_timestamps[i]``/``histograms[i]`` is one
    histogram sample; ``exemplars`` pairs a series index with an exemplar;
    ``metadata`` is per metric family, not per series. All empty by default,
    so float-only paths pay nothing.
    """

    labels: Sequence[Labels] = field(default_factory=list)
    series_index: npt.NDArray[np.int32] = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    timestamps: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    values: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    series_keys: npt.NDArray[np.uint64] | None = None
    hist_series_index: npt.NDArray[np.int32] = field(
        default_factory=lambda: np.empty(0, dtype=np.int32))
    hist_timestamps: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.empty(0, dtype=np.int64))
    histograms: list[Histogram] = field(default_factory=list)
    exemplars: list[tuple[int, Exemplar]] = field(default_factory=list)
    metadata: list[MetricMetadata] = field(default_factory=list)

    def __len__(self) -> int:
        """Float samples only (arrays are sized by it); see ``num_samples``."""
        return int(self.timestamps.shape[0])

    @property
    def num_samples(self) -> int:
        """Float and histogram samples together."""
        return len(self) + len(self.histograms)
