"""Rule groups as stored objects: Mimir's protobuf ``RuleGroupDesc``.

Mimir's ruler writes each group as ``rules.RuleGroupDesc`` (protocol/proto/rules.proto
has its field numbers); so do we, so that one bucket serves either ruler. Mimir
encodes its durations as non-nullable (always present, empty when zero) and sorts
labels by name; we write the same bytes. A Prometheus group's ``limit`` and
``labels``, which ``RuleGroupDesc`` has no field for, travel in its ``options``
(an ``Any`` Mimir keeps without reading). As in Mimir, a zero ``query_offset`` is
not kept (the tenant's default applies), and the deprecated ``evaluationDelay`` is
read as the query offset when no ``queryOffset`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError

from tidewell.model.errors import TidewellError
from tidewell.protocol.pb import rules_pb2 as pb
from tidewell.ruler.rulefmt import Rule, RuleGroup

__all__ = ["OPTIONS_TYPE_URL", "GroupDecodeError", "decode_group", "encode_group"]

OPTIONS_TYPE_URL = "type.googleapis.com/tidewell.rules.GroupOptions"


class GroupDecodeError(TidewellError):
    """A stored object is not a ``RuleGroupDesc``; the message says why."""


def _set_duration(d: Duration, seconds: float) -> None:
    nanos = round(seconds * 1e9)
    d.seconds, d.nanos = divmod(nanos, 1_000_000_000)
    d.SetInParent()  # present even when zero, as Mimir's non-nullable durations


def _seconds(d: Duration) -> float:
    return d.seconds + d.nanos / 1e9


def _set_labels(out: object, labels: Mapping[str, str]) -> None:
    for name in sorted(labels):
        out.add(name=name, value=labels[name])  # type: ignore[attr-defined]


def encode_group(tenant: str, namespace: str, group: RuleGroup) -> bytes:
    """The bytes Mimir's ruler would store for ``group`` of ``tenant`` in ``namespace``."""
    desc = pb.RuleGroupDesc(name=group.name, namespace=namespace, user=tenant)
    _set_duration(desc.interval, group.interval)
    for rule in group.rules:
        rd = desc.rules.add(expr=rule.expr, record=rule.record, alert=rule.alert)
        _set_duration(getattr(rd, "for"), rule.for_)
        _set_labels(rd.labels, rule.labels)
        _set_labels(rd.annotations, rule.annotations)
        _set_duration(rd.keep_firing_for, rule.keep_firing_for)
    if group.limit or group.labels:
        opts = pb.GroupOptions(limit=group.limit)
        _set_labels(opts.labels, group.labels)
        desc.options.add(type_url=OPTIONS_TYPE_URL, value=opts.SerializeToString())
    _set_duration(desc.evaluationDelay, 0.0)
    _set_duration(desc.queryOffset, group.query_offset or 0.0)
    return desc.SerializeToString()


def decode_group(data: bytes) -> tuple[str, str, RuleGroup]:
    """``(tenant, namespace, group)`` from a stored ``RuleGroupDesc`` (ours or Mimir's)."""
    desc = pb.RuleGroupDesc()
    try:
        desc.ParseFromString(data)
    except DecodeError as exc:
        raise GroupDecodeError(f"not a RuleGroupDesc: {exc}") from None
    if desc.align_evaluation_time_on_interval:
        raise GroupDecodeError("align_evaluation_time_on_interval is not supported")
    rules = [Rule(r.expr, record=r.record, alert=r.alert, for_=_seconds(getattr(r, "for")),
                  keep_firing_for=_seconds(r.keep_firing_for),
                  labels={p.name: p.value for p in r.labels},
                  annotations={p.name: p.value for p in r.annotations})
             for r in desc.rules]
    if desc.sourceTenants:
        raise GroupDecodeError("federated rule groups (sourceTenants) are not supported")
    opts = pb.GroupOptions()
    for option in desc.options:
        if option.type_url == OPTIONS_TYPE_URL:
            opts.ParseFromString(option.value)
    offset = _seconds(desc.queryOffset) or _seconds(desc.evaluationDelay)
    group = RuleGroup(desc.name, rules, interval=_seconds(desc.interval),
                      query_offset=offset or None, limit=opts.limit,
                      labels={p.name: p.value for p in opts.labels})
    return desc.user, desc.namespace, group
