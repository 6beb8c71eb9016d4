"""Parsing in pieces gives the message (or the error) a whole upb parse gives."""

from __future__ import annotations

import random

import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb

from tidewell.protocol.pieces import parse_in_pieces

LIMITS = [1, 7, 64, 1000, 1 << 20]  # 1: every field over the limit is split into its parts


def random_request(rng: random.Random) -> svc.ExportMetricsServiceRequest:
    """Resources, scopes and metrics of every kind, with attributes and exemplars."""
    req = svc.ExportMetricsServiceRequest()
    for r in range(rng.randint(0, 3)):
        rm = req.resource_metrics.add(schema_url=f"s{r}")
        for k in range(rng.randint(0, 3)):
            kv = rm.resource.attributes.add(key=f"res{k}")
            kv.value.string_value = "v" * rng.randint(0, 300)
        for _ in range(rng.randint(0, 3)):
            sm = rm.scope_metrics.add()
            sm.scope.name = "scope"
            for m in range(rng.randint(0, 4)):
                metric = sm.metrics.add(name=f"m{m}", unit="s",
                                        description="d" * rng.randint(0, 50))
                kind = rng.choice(["gauge", "sum", "histogram", "exponential_histogram", "summary"])
                data = getattr(metric, kind)
                if kind != "gauge" and kind != "summary":
                    data.aggregation_temporality = rng.choice([1, 2])
                for p in range(rng.randint(0, 5)):
                    dp = data.data_points.add(time_unix_nano=rng.randint(0, 2**62))
                    a = dp.attributes.add(key="id")
                    a.value.string_value = f"{p}" + "x" * rng.randint(0, 100)
                    if kind in ("gauge", "sum"):
                        dp.as_double = rng.random()
                        dp.exemplars.add(as_int=p, trace_id=b"\x01" * 16)
                    elif kind == "histogram":
                        dp.count, dp.sum = 3, 1.5
                        dp.explicit_bounds.extend([0.1, 1.0])
                        dp.bucket_counts.extend([1, 1, 1])
                    elif kind == "exponential_histogram":
                        dp.scale, dp.count = 3, 2
                        dp.positive.offset = -2
                        dp.positive.bucket_counts.extend([1, 0, 1])
                    else:
                        dp.count, dp.sum = 2, 4.0
                        dp.quantile_values.add(quantile=0.5, value=2.0)
    return req


@pytest.mark.parametrize("seed", range(30))
def test_valid_requests_parse_to_the_same_message(seed: int) -> None:
    rng = random.Random(seed)
    raw = random_request(rng).SerializeToString()
    whole = svc.ExportMetricsServiceRequest.FromString(raw)
    for limit in LIMITS:
        got = svc.ExportMetricsServiceRequest()
        parse_in_pieces(got, raw, limit)
        assert got == whole
        assert got.SerializeToString() == raw


def test_repeated_singular_fields_merge_and_oneofs_switch_as_in_a_whole_parse() -> None:
    """A singular sub-message sent twice is merged; a later oneof member wins."""
    first = mpb.Metric(name="a")
    first.sum.is_monotonic = True
    first.sum.data_points.add(as_int=1)
    second = mpb.Metric(description="b")
    second.gauge.data_points.add(as_int=2)
    third = mpb.Metric()
    third.gauge.SetInParent()  # an empty gauge: present all the same
    for raw in (first.SerializeToString() + second.SerializeToString(),
                second.SerializeToString() + first.SerializeToString() + second.SerializeToString(),
                first.SerializeToString() + third.SerializeToString()):
        for limit in LIMITS:
            got = mpb.Metric()
            parse_in_pieces(got, raw, limit)
            assert got == mpb.Metric.FromString(raw)
            assert got.WhichOneof("data") == mpb.Metric.FromString(raw).WhichOneof("data")


def test_unknown_fields_and_wire_type_mismatches_are_kept_as_upb_keeps_them() -> None:
    """Field 1 as a varint is not the repeated message: upb keeps it as an unknown field."""
    raw = b"\x08\x05" + b"\xa2\x06\x03abc" + svc.ExportMetricsServiceRequest(
        resource_metrics=[{"schema_url": "x" * 50}]).SerializeToString()
    whole = svc.ExportMetricsServiceRequest.FromString(raw)
    for limit in LIMITS:
        got = svc.ExportMetricsServiceRequest()
        parse_in_pieces(got, raw, limit)
        assert got.SerializeToString() == whole.SerializeToString()
        assert b"abc" in got.SerializeToString() and len(got.resource_metrics) == 1


def _len_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (tag and length as varints)."""
    out = bytearray()
    for v in ((number << 3) | 2, len(payload)):
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
    return bytes(out) + payload


def nested_attribute(levels: int, bottom: bytes) -> bytes:
    """A request whose one data point's attribute nests ``levels`` kvlists around a string:
    every level is larger than a small piece limit, so each would be split."""
    num = {name: msg.DESCRIPTOR.fields_by_name[name].number for msg, name in (
        (common_pb2.AnyValue, "kvlist_value"), (common_pb2.KeyValue, "value"))}
    value = _len_field(common_pb2.AnyValue.DESCRIPTOR.fields_by_name["string_value"].number,
                       bottom)
    for _ in range(levels):  # AnyValue{kvlist_value: KeyValueList{values: [KeyValue{value}]}}
        value = _len_field(num["kvlist_value"], _len_field(1, _len_field(num["value"], value)))
    dp = _len_field(mpb.NumberDataPoint.DESCRIPTOR.fields_by_name["attributes"].number,
                    _len_field(num["value"], value))
    metric = _len_field(5, _len_field(1, dp))  # Metric.gauge, Gauge.data_points
    return _len_field(1, _len_field(2, _len_field(2, metric)))  # resource, scope metrics


def test_nesting_is_refused_as_deep_as_a_whole_parse_refuses_it() -> None:
    """Pieces below a data point are not split: upb's nesting limit (100 levels from
    the start of a call) refuses what a whole parse refuses, not a Python RecursionError."""
    for levels, accepted in ((20, True), (60, False), (400, False)):
        raw = nested_attribute(levels, b"x" * 100)
        assert (_outcome(raw, None)[0] == "ok") is accepted
        assert _outcome(raw, 1) == _outcome(raw, None)


def _outcome(raw: bytes, limit: int | None) -> tuple[str, str]:
    """("ok", the message's bytes) or ("error", upb's text without its reason)."""
    msg = svc.ExportMetricsServiceRequest()
    try:
        if limit is None:
            msg.ParseFromString(raw)
        else:
            parse_in_pieces(msg, raw, limit)
    except DecodeError as e:
        return "error", str(e).partition(": ")[0]
    return "ok", msg.SerializeToString().hex()


@pytest.mark.parametrize("seed", range(10))
def test_malformed_requests_are_refused_as_by_a_whole_parse(seed: int) -> None:
    """Refused exactly when a whole parse refuses, naming the request's type. (upb's
    reason can differ: a length running past the end is seen before the bad UTF-8
    a whole parse meets first inside it.)"""
    rng = random.Random(seed)
    raw = random_request(rng).SerializeToString() or b"\x0a\x00"
    cases = [raw[:n] for n in rng.sample(range(len(raw)), min(len(raw), 40))]
    for _ in range(40):
        b = bytearray(raw)
        b[rng.randrange(len(b))] = rng.randrange(256)
        cases.append(bytes(b))
    cases += [b"\x00", b"\x0a\xff", b"\x0a\x05ab", b"\x0b\x0c", b"\x0a\x02\x12\x80"]
    refused = 0
    for case in cases:
        want = _outcome(case, None)
        refused += want[0] == "error"
        for limit in (1, 16, 1 << 20):
            assert _outcome(case, limit) == want, (case.hex(), limit)
    assert refused >= 10  # the cases do exercise the refusals
