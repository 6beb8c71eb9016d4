"""Reading a prometheus_client metric's current value through its public ``collect()``."""

from __future__ import annotations

from prometheus_client.metrics import MetricWrapperBase

__all__ = ["metric_value"]


def metric_value(metric: MetricWrapperBase, *values: str, **labels: str) -> float:
    """The value of ``metric``'s child with these label values (positional, in the
    metric's label order) or names; 0 when that child does not exist yet."""
    for family in metric.collect():
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            if (labels and s.labels == labels) or (values and tuple(s.labels.values()) == values) \
                    or (not labels and not values and not s.labels):
                return s.value
    return 0.0
