"""Reading a component's own ``/metrics``: the counters the checks compare over time."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["MetricSnapshot", "by_label", "scrape", "total"]

MetricSnapshot = dict[str, dict[tuple[tuple[str, str], ...], float]]
"""Sample name → label set (sorted pairs) → value."""


async def scrape(client: httpx.AsyncClient, url: str) -> MetricSnapshot:
    """Every sample of ``url/metrics``; raises ``httpx.HTTPError`` when it does not answer."""
    r = await client.get(f"{url}/metrics")
    r.raise_for_status()
    out: MetricSnapshot = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def total(snap: MetricSnapshot, name: str) -> float:
    """Sum of a metric over all its label sets (0 when absent)."""
    return sum(snap.get(name, {}).values())


def by_label(snap: MetricSnapshot, name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for labels, value in snap.get(name, {}).items():
        key = dict(labels).get(label, "")
        out[key] = out.get(key, 0.0) + value
    return out
