"""Exemplars and metric metadata: what a client sends beside samples."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tidewell.model.labels import Labels

__all__ = ["Exemplar", "MetricMetadata", "MetricType"]


@dataclass(frozen=True, slots=True)
class Exemplar:
    """A sample's example trace: its own labels (e.g. ``trace_id``), value and time (ms)."""

    labels: Labels
    value: float
    timestamp: int


class MetricType(enum.IntEnum):
    """Remote write 1.0's ``MetricMetadata.MetricType`` numbers."""

    UNKNOWN = 0
    COUNTER = 1
    GAUGE = 2
    HISTOGRAM = 3
    GAUGEHISTOGRAM = 4
    SUMMARY = 5
    INFO = 6
    STATESET = 7

    @property
    def api_name(self) -> str:
        """The name ``/api/v1/metadata`` prints (lower case, as Prometheus)."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class MetricMetadata:
    """Type, help and unit of one metric family, as ``/api/v1/metadata`` serves them."""

    metric_family_name: str
    type: MetricType = MetricType.UNKNOWN
    help: str = ""
    unit: str = ""
