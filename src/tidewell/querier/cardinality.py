"""Cardinality statistics for the query API: counted by the ingesters, merged here.

Only ingesters are asked (``inmemory`` and ``active`` both mean the series in their
heads, as in Mimir). In one process the ingester's ``TenantRegistry`` answers
directly (``LocalCardinality``); in a cluster ``PartitionsCardinality`` asks every
healthy owner of each of the tenant's partitions at once. A series lives in exactly
one partition, and each zone's owner of a partition holds the same series, so the
merge is Mimir's for ingest storage: per partition the largest count among its
replicas (a replica that lags or restarted has fewer), summed over partitions.

Internal wire format (``/internal/v1/label_stats``, ``/internal/v1/active_series``):
JSON, small next to what it describes and free of a schema change per field.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import orjson

from tidewell.ingester import cardinality as ic
from tidewell.ingester.cardinality import HeadStats, LabelStats, ResultTooLargeError
from tidewell.ingester.user_tsdb import TenantRegistry
from tidewell.model import Labels, Matcher
from tidewell.model.matchers import MatchType
from tidewell.querier.partitions import PartitionsQueryable
from tidewell.querier.remote import RemoteQueryable, RemoteQueryError

__all__ = [
    "CardinalitySource",
    "LocalCardinality",
    "PartitionsCardinality",
    "decode_label_stats",
    "decode_series",
    "decode_stats_request",
    "encode_label_stats",
    "encode_series",
    "encode_stats_request",
    "merge_label_stats",
]


class CardinalitySource(Protocol):
    """Where the cardinality API reads its counts (one ingester, or all of them)."""

    def label_stats(self, tenant: str, matchers: list[Matcher], *, count_method: str,
                    names: list[str] | None = None, max_bytes: int = 0) -> LabelStats: ...

    def active_series(self, tenant: str, matchers: list[Matcher], *,
                      max_bytes: int = 0) -> list[Labels]: ...


# -- wire ----------------------------------------------------------------------------


def encode_stats_request(matchers: Sequence[Matcher], *, count_method: str = ic.INMEMORY,
                         names: list[str] | None = None, max_bytes: int = 0) -> bytes:
    return orjson.dumps({"matchers": [[m.type.value, m.name, m.value] for m in matchers],
                         "count_method": count_method, "names": names,
                         "max_bytes": max_bytes})


def decode_stats_request(body: bytes) -> tuple[list[Matcher], str, list[str] | None, int]:
    """(matchers, count method, names, max bytes); ``ValueError`` for a bad body."""
    try:
        req = orjson.loads(body)
        matchers = [Matcher(MatchType(t), str(n), str(v)) for t, n, v in req["matchers"]]
        method = str(req.get("count_method") or ic.INMEMORY)
        names = req.get("names")
        max_bytes = int(req.get("max_bytes") or 0)
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"bad request: {exc}") from exc
    if method not in ic.COUNT_METHODS:
        raise ValueError(f"invalid count method {method!r}")
    return matchers, method, None if names is None else [str(n) for n in names], max_bytes


def encode_label_stats(stats: LabelStats) -> bytes:
    h = stats.head
    return orjson.dumps({"series": stats.series, "pairs": stats.pairs,
                         "head": [h.num_series, h.chunk_count, h.min_time, h.max_time]})


def decode_label_stats(data: bytes) -> LabelStats:
    doc = orjson.loads(data)
    return LabelStats(int(doc["series"]), doc["pairs"], HeadStats(*doc["head"]))


def encode_series(series: list[Labels]) -> bytes:
    return orjson.dumps([[x for pair in ls for x in pair] for ls in series])


def decode_series(data: bytes) -> list[Labels]:
    return [Labels.from_sorted(zip(flat[::2], flat[1::2], strict=True))
            for flat in orjson.loads(data)]


# -- merging -------------------------------------------------------------------------


def merge_label_stats(groups: Sequence[Sequence[LabelStats]], max_bytes: int = 0) -> LabelStats:
    """Per-partition answers (one group per partition, one entry per replica) as one:
    each count the largest among a group's replicas, summed over groups."""
    out = LabelStats()
    size = 0
    for group in groups:
        if not group:
            continue
        best: dict[str, dict[str, int]] = {}
        for st in group:
            for name, values in st.pairs.items():
                held = best.setdefault(name, {})
                for value, count in values.items():
                    if count > held.get(value, 0):
                        held[value] = count
        out.series += max(st.series for st in group)
        heads = [st.head for st in group]
        out.head.num_series += max(h.num_series for h in heads)
        out.head.chunk_count += max(h.chunk_count for h in heads)
        out.head.min_time = min(out.head.min_time, *(h.min_time for h in heads))
        out.head.max_time = max(out.head.max_time, *(h.max_time for h in heads))
        for name, values in best.items():
            merged = out.pairs.get(name)
            if merged is None:
                merged = out.pairs[name] = {}
                size += len(name)
            for value, count in values.items():
                if value not in merged:
                    size += len(value)
                merged[value] = merged.get(value, 0) + count
            if max_bytes and size > max_bytes:
                raise ResultTooLargeError(
                    f"size of distinct label names and values is greater than {max_bytes} bytes")
    return out


# -- sources -------------------------------------------------------------------------


class LocalCardinality:
    """``CardinalitySource`` over the ingester of this process."""

    def __init__(self, tenants: TenantRegistry, active_idle_timeout_s: float) -> None:
        self._tenants = tenants
        self._idle_ms = round(active_idle_timeout_s * 1000)

    def _since(self, count_method: str) -> int | None:
        return int(time.time() * 1000) - self._idle_ms if count_method == ic.ACTIVE else None

    def label_stats(self, tenant: str, matchers: list[Matcher], *, count_method: str,
                    names: list[str] | None = None, max_bytes: int = 0) -> LabelStats:
        return ic.label_stats(self._tenants, tenant, matchers, names=names,
                              active_since=self._since(count_method), max_bytes=max_bytes)

    def active_series(self, tenant: str, matchers: list[Matcher], *,
                      max_bytes: int = 0) -> list[Labels]:
        since = self._since(ic.ACTIVE)
        assert since is not None
        return ic.active_series(self._tenants, tenant, matchers, active_since=since,
                                max_bytes=max_bytes)


def _remote(client: RemoteQueryable, op: str, tenant: str, body: bytes) -> bytes:
    try:
        return client.call(op, tenant, body)
    except RemoteQueryError as exc:
        if exc.status == 413:
            raise ResultTooLargeError(str(exc.cause)) from exc
        raise


class PartitionsCardinality:
    """``CardinalitySource`` over every owner of the partitions a tenant writes to."""

    def __init__(self, partitions: PartitionsQueryable) -> None:
        self._partitions = partitions

    def label_stats(self, tenant: str, matchers: list[Matcher], *, count_method: str,
                    names: list[str] | None = None, max_bytes: int = 0) -> LabelStats:
        body = encode_stats_request(matchers, count_method=count_method, names=names,
                                    max_bytes=max_bytes)
        groups = self._partitions.ask_every_owner(
            tenant, lambda c: decode_label_stats(_remote(c, "label_stats", tenant, body)))
        return merge_label_stats(groups, max_bytes)

    def active_series(self, tenant: str, matchers: list[Matcher], *,
                      max_bytes: int = 0) -> list[Labels]:
        body = encode_stats_request(matchers, count_method=ic.ACTIVE, max_bytes=max_bytes)
        groups = self._partitions.ask_every_owner(
            tenant, lambda c: decode_series(_remote(c, "active_series", tenant, body)))
        seen: dict[Labels, None] = {}
        size = 0
        for group in groups:
            for answer in group:
                for ls in answer:
                    if ls not in seen:
                        seen[ls] = None
                        size += sum(len(k) + len(v) for k, v in ls)
                        if max_bytes and size > max_bytes:
                            raise ic.active_series_too_large(max_bytes)
        return sorted(seen)

