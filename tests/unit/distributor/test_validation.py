"""Every per-series validation rule, with Mimir's exact message; valid neighbours still land."""

from __future__ import annotations

import math

import pytest

from tests.support.metrics import metric_value
from tests.unit.distributor.helpers import Harness, now_ms, series
from tidewell.distributor import Limits, Overrides, PartialValidationError
from tidewell.distributor import metrics as m
from tidewell.model import Labels
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.util.varint import uvarint

GOOD = {"__name__": "good_metric", "job": "ok"}
LIMIT_SUFFIX = "or contact your service administrator."
LEGACY = Limits(name_validation_scheme="legacy")


def push_with_bad(h: Harness, bad_labels, samples=None, sort: bool = False):
    wr = pb.WriteRequest()
    series(wr, GOOD, sort=True)
    series(wr, bad_labels, samples, sort=sort)
    with pytest.raises(PartialValidationError) as exc:
        h.push("tenant-1", wr.SerializeToString())
    # The valid neighbour is always written.
    assert Labels.from_dict(GOOD) in h.writer.series()
    return exc.value.message


def test_missing_metric_name():
    msg = push_with_bad(Harness(), [("job", "x")])
    assert msg == "received series has no metric name (err-mimir-missing-metric-name)"


def test_invalid_metric_name():
    msg = push_with_bad(Harness(LEGACY), [("__name__", "1bad-name")])
    assert msg == (
        "received a series with invalid metric name: '1bad-name' (err-mimir-metric-name-invalid)"
    )


def test_invalid_metric_name_strips_non_ascii():
    msg = push_with_bad(Harness(LEGACY), [("__name__", "bädname")])
    assert msg == (
        "received a series with invalid metric name: 'bdname (non-ascii characters removed)' "
        "(err-mimir-metric-name-invalid)"
    )


def test_too_many_labels():
    h = Harness(Limits(max_label_names_per_series=3))
    labels = [("__name__", "m"), ("a", "1"), ("b", "2"), ("c", "3")]
    msg = push_with_bad(h, labels)
    assert msg == (
        "received a series whose number of labels exceeds the limit (actual: 4, limit: 3) "
        "series: '{__name__=\"m\", a=\"1\", b=\"2\", c=\"3\"}' "
        "(err-mimir-max-label-names-per-series). To adjust the related per-tenant limit, "
        f"configure -validation.max-label-names-per-series, {LIMIT_SUFFIX}"
    )


def test_info_series_get_their_own_label_limit():
    h = Harness(Limits(max_label_names_per_series=2, max_label_names_per_info_series=3))
    ok = [("__name__", "target_info"), ("a", "1"), ("b", "2")]
    wr = pb.WriteRequest()
    series(wr, ok)
    h.push("t", wr.SerializeToString())
    msg = push_with_bad(h, [("__name__", "target_info"), ("a", "1"), ("b", "2"), ("c", "3")])
    assert msg.startswith(
        "received an info series whose number of labels exceeds the limit (actual: 4, limit: 3)"
    )
    assert "(err-mimir-max-label-names-per-info-series)" in msg
    assert "-validation.max-label-names-per-info-series" in msg


def test_invalid_label_name():
    msg = push_with_bad(Harness(LEGACY), [("__name__", "m"), ("bad-name", "v")])
    assert msg == (
        "received a series with an invalid label: 'bad-name' series: "
        "'{__name__=\"m\", \"bad-name\"=\"v\"}' (err-mimir-label-invalid)"
    )


def test_utf8_names_accepted_by_default():
    h = Harness()
    names = {"__name__": "http.server.duration", "le": "0.1", "service name": "a b",
             "ünit": "ms", "1st": "x"}
    wr = pb.WriteRequest()
    series(wr, names, sort=True)
    series(wr, {"__name__": "1bad-name", "bad-name": "v"}, sort=True)
    h.push("t", wr.SerializeToString())
    got = h.writer.series()
    assert Labels.from_dict(names) in got
    assert Labels.from_dict({"__name__": "1bad-name", "bad-name": "v"}) in got


def test_legacy_scheme_is_a_per_tenant_override():
    overrides = Overrides(Limits())
    overrides.set_tenant_overrides({"old": {"name_validation_scheme": "legacy"}})
    h = Harness()
    h.distributor.overrides = overrides
    raw = _one_series({"__name__": "a.b", "job": "x"})
    h.push("new", raw)
    with pytest.raises(PartialValidationError) as exc:
        h.push("old", raw)
    assert exc.value.message == (
        "received a series with invalid metric name: 'a.b' (err-mimir-metric-name-invalid)"
    )
    with pytest.raises(ValueError, match="name validation scheme"):
        overrides.set_tenant_overrides({"x": {"name_validation_scheme": "ascii"}})
    with pytest.raises(ValueError, match="is not allowed when UTF8 is disabled"):
        overrides.set_tenant_overrides({"x": {"name_validation_scheme": "legacy",
                                              "otel_translation_strategy": "NoTranslation"}})
    with pytest.raises(ValueError, match="unsupported OTLP translation strategy"):
        overrides.set_tenant_overrides({"x": {"otel_translation_strategy": "Dots"}})
    assert Limits().otel_strategy() == "NoTranslation"
    assert LEGACY.otel_strategy() == "UnderscoreEscapingWithoutSuffixes"


def test_utf8_scheme_still_rejects_empty_and_invalid_names():
    h = Harness()
    # An empty metric name is no metric name.
    msg = push_with_bad(h, [("__name__", ""), ("job", "x")])
    assert msg == "received series has no metric name (err-mimir-missing-metric-name)"
    # An empty label name is never valid.
    msg = push_with_bad(h, [("__name__", "m"), ("", "v")], sort=False)
    assert msg == (
        "received a series with an invalid label: '' series: '{\"\"=\"v\", __name__=\"m\"}' "
        "(err-mimir-label-invalid)"
    )
    # Invalid UTF-8 in a metric name or a label name (built by hand: protobuf refuses).
    lab_ok = b"\x0a\x08__name__\x12\x01m"
    bad_name = _ld(1, b"\x0a\x08__name__\x12\x02\xc3\x28")
    bad_label = _ld(1, lab_ok) + _ld(1, b"\x0a\x02\xff\x61\x12\x01v")
    sample = _ld(2, b"\x09" + b"\x00" * 8 + b"\x10" + uvarint(now_ms()))
    for ts, want in (
        (bad_name + sample, "received a series with invalid metric name: "
                            "'( (non-ascii characters removed)' (err-mimir-metric-name-invalid)"),
        (bad_label + sample, "received a series with an invalid label: '\ufffda' series: "),
    ):
        wr = pb.WriteRequest()
        series(wr, GOOD)
        with pytest.raises(PartialValidationError) as exc:
            h.push("t", wr.SerializeToString() + _ld(1, ts))
        assert exc.value.message.startswith(want)
        assert Labels.from_dict(GOOD) in h.writer.series()


def _one_series(labels: dict[str, str]) -> bytes:
    wr = pb.WriteRequest()
    series(wr, labels, sort=True)
    return wr.SerializeToString()


@pytest.mark.parametrize(("limits", "labels", "expected"), [
    (Limits(max_label_name_length=8), [("__name__", "m"), ("abcdefghi", "v")],
     "received a series whose label name length exceeds the limit, label: 'abcdefghi' "
     "series: '{__name__=\"m\", abcdefghi=\"v\"}' (err-mimir-label-name-too-long). "
     "To adjust the related per-tenant limit, configure -validation.max-length-label-name, "),
    (Limits(max_label_value_length=11), [("__name__", "m"), ("a", "123456789012")],
     "received a series whose label value length exceeds the limit, label: 'a', value: "
     "'123456789012' (truncated) series: '{__name__=\"m\", a=\"123456789012\"}' "
     "(err-mimir-label-value-too-long). To adjust the related per-tenant limit, configure "
     "-validation.max-length-label-value, "),
], ids=["name", "value"])
def test_label_too_long(limits: Limits, labels: list[tuple[str, str]], expected: str):
    assert push_with_bad(Harness(limits), labels) == expected + LIMIT_SUFFIX


def test_invalid_utf8_label_value():
    wr = pb.WriteRequest()
    series(wr, GOOD)
    good = wr.SerializeToString()
    # Build a series by hand with invalid UTF-8 in a value (protobuf libs refuse to).
    lab1 = b"\x0a\x08__name__\x12\x01m"
    lab2 = b"\x0a\x01a\x12\x02\xff\xfe"
    sample = b"\x09" + (1.0).hex().encode()[:0] + b"\x00" * 8 + b"\x10" + uvarint(now_ms())
    ts = _ld(1, lab1) + _ld(1, lab2) + _ld(2, sample)
    raw = good + _ld(1, ts)
    h = Harness()
    with pytest.raises(PartialValidationError) as exc:
        h.push("t", raw)
    assert exc.value.message == (
        "received a series with invalid value in label 'a': '\ufffd\ufffd' metric: 'm' "
        "(err-mimir-label-value-invalid)"
    )
    assert Labels.from_dict(GOOD) in h.writer.series()


def test_duplicate_label_names():
    msg = push_with_bad(Harness(), [("__name__", "m"), ("a", "1"), ("a", "2")])
    assert msg == (
        "received a series with duplicate label name, label: 'a' series: "
        "'{__name__=\"m\", a=\"1\", a=\"2\"}' (err-mimir-duplicate-label-names)"
    )


def test_too_far_in_future():
    ts = now_ms() + 3600_000
    msg = push_with_bad(Harness(), [("__name__", "m")], [(ts, 1.0)])
    assert msg == (
        f"received a sample whose timestamp is too far in the future, timestamp: {ts} "
        "series: 'm' (err-mimir-too-far-in-future). To adjust the related per-tenant limit, "
        f"configure -validation.create-grace-period, {LIMIT_SUFFIX}"
    )


def test_too_far_in_past_only_when_enabled():
    h = Harness()
    wr = pb.WriteRequest()
    series(wr, {"__name__": "old"}, [(0, 1.0)])
    h.push("t", wr.SerializeToString())  # past_grace_period = 0: accepted, as in Mimir
    assert h.writer.series()[Labels.from_dict({"__name__": "old"})] == [(0, 1.0)]
    h = Harness(Limits(past_grace_period=3600.0))
    msg = push_with_bad(h, [("__name__", "m")], [(0, 1.0)])
    assert msg == (
        "received a sample whose timestamp is too far in the past, timestamp: 0 series: 'm' "
        "(err-mimir-too-far-in-past). To adjust the related per-tenant limit, configure "
        f"-validation.past-grace-period, {LIMIT_SUFFIX}"
    )


def test_unsorted_labels_are_sorted_and_empty_values_dropped():
    h = Harness()
    wr = pb.WriteRequest()
    series(wr, [("zone", "z"), ("__name__", "m"), ("empty", ""), ("app", "a")])
    h.push("t", wr.SerializeToString())
    (labels,) = h.writer.series()
    assert list(labels) == [("__name__", "m"), ("app", "a"), ("zone", "z")]


def test_nan_and_inf_values_are_valid_samples():
    h = Harness()
    wr = pb.WriteRequest()
    t = now_ms()
    inf = float("inf")
    series(wr, {"__name__": "m"}, [(t, float("nan")), (t + 1, inf), (t + 2, -inf)])
    h.push("t", wr.SerializeToString())
    got = h.writer.series()[Labels.from_dict({"__name__": "m"})]
    assert [v for _, v in got][1:] == [float("inf"), float("-inf")]
    assert got[0][1] != got[0][1]


def test_discarded_samples_metric_counts_reason():
    h = Harness()
    before = metric_value(m.DISCARDED_SAMPLES, "metric-tenant", "missing_metric_name")
    wr = pb.WriteRequest()
    series(wr, [("job", "x")], [(now_ms(), 1.0), (now_ms() + 1, 2.0)])
    with pytest.raises(PartialValidationError):
        h.push("metric-tenant", wr.SerializeToString())
    after = metric_value(m.DISCARDED_SAMPLES, "metric-tenant", "missing_metric_name")
    assert after - before == 2


def test_many_failures_are_summarised():
    h = Harness()
    wr = pb.WriteRequest()
    for i in range(25):
        series(wr, [("job", str(i))])
    with pytest.raises(PartialValidationError) as exc:
        h.push("t", wr.SerializeToString())
    lines = exc.value.message.split("\n")
    assert len(lines) == 11
    assert lines[-1] == "(and 15 more series rejected)"


def _ld(field: int, payload: bytes) -> bytes:
    return bytes([(field << 3) | 2]) + uvarint(len(payload)) + payload


def test_invalid_native_histogram_schema():
    h = Harness(Limits(native_histograms_ingestion_enabled=True))
    wr = pb.WriteRequest()
    series(wr, GOOD, sort=True)
    ts = series(wr, [("__name__", "hist")], [])
    hist = ts.histograms.add()
    hist.schema = 9
    hist.count_int = 1
    hist.timestamp = now_ms()
    with pytest.raises(PartialValidationError) as exc:
        h.push("t", wr.SerializeToString())
    assert exc.value.message == (
        "received a native histogram sample with an invalid schema: 9 "
        "(err-mimir-invalid-native-histogram-schema)"
    )
    assert Labels.from_dict(GOOD) in h.writer.series()


def test_invalid_exemplars_are_dropped_silently():
    h = Harness(Limits(max_global_exemplars_per_user=10))
    wr = pb.WriteRequest()
    ts = series(wr, GOOD)
    good = ts.exemplars.add()
    lab = good.labels.add()
    lab.name, lab.value = "trace_id", "abc"
    good.timestamp, good.value = now_ms(), 1.0
    ts.exemplars.add().timestamp = now_ms()  # no labels: dropped
    before = metric_value(m.DISCARDED_EXEMPLARS, "ex", "exemplar_labels_missing")
    result = h.push("ex", wr.SerializeToString())
    assert result.exemplars == 1
    (rec,) = h.writer.records
    (written,) = pb.WriteRequest.FromString(rec.value).timeseries
    assert [e.labels[0].value for e in written.exemplars] == ["abc"]
    after = metric_value(m.DISCARDED_EXEMPLARS, "ex", "exemplar_labels_missing")
    assert after - before == 1


def test_rate_limit_and_burst_messages_are_mimirs():
    from tidewell.distributor import RateLimitedError

    h = Harness(Limits(ingestion_rate=2.5, ingestion_burst_size=7))
    wr = pb.WriteRequest()
    for i in range(8):
        series(wr, {"__name__": "m", "i": str(i)})
    with pytest.raises(RateLimitedError) as exc:
        h.push("t", wr.SerializeToString())
    assert exc.value.message == (
        "the request has been rejected because the tenant exceeded the ingestion burst size "
        "limit, set to 7, with 8 items. This limit is applied on the total number of samples, "
        "exemplars and metadata received across all distributors "
        "(err-mimir-tenant-max-ingestion-rate). To adjust the related per-tenant limit, "
        f"configure -distributor.ingestion-burst-size, {LIMIT_SUFFIX}"
    )
    wr = pb.WriteRequest()
    for i in range(5):
        series(wr, {"__name__": "m", "i": str(i)})
    h.push("t", wr.SerializeToString())
    with pytest.raises(RateLimitedError) as exc:
        h.push("t", wr.SerializeToString())
    assert exc.value.message == (
        "the request has been rejected because the tenant exceeded the ingestion rate limit, "
        "set to 2.5 items/s with a maximum allowed burst of 7. This limit is applied on the total "
        "number of samples, exemplars and metadata received across all distributors "
        "(err-mimir-tenant-max-ingestion-rate). To adjust the related per-tenant limits, "
        "configure -distributor.ingestion-rate-limit and -distributor.ingestion-burst-size, "
        f"{LIMIT_SUFFIX}"
    )


def test_unsorted_series_with_invalid_utf8_fails_cleanly():
    from tidewell.distributor import InvalidRequestError

    lab1 = _ld(1, b"\x0a\x01z\x12\x02\xff\xfe")
    lab2 = _ld(1, b"\x0a\x08__name__\x12\x01m")
    raw = _ld(1, lab1 + lab2)
    with pytest.raises(InvalidRequestError, match="failed to parse write request"):
        Harness().push("t", raw)


def test_too_far_in_future_names_the_first_offending_sample():
    now = now_ms()
    late1, late2 = now + 7200_000, now + 3600_000
    msg = push_with_bad(Harness(), [("__name__", "m")], [(now, 1.0), (late1, 2.0), (late2, 3.0)])
    assert f"timestamp: {late1} series: 'm'" in msg


def test_infinite_rate_admits_every_push_past_the_burst():
    """``inf`` is Go's ``rate.Inf``: no limit, the burst size is not consulted."""
    h = Harness(Limits(ingestion_rate=math.inf, ingestion_burst_size=7))
    wr = pb.WriteRequest()
    for i in range(50):
        series(wr, {"__name__": "m", "i": str(i)})
    for _ in range(3):
        h.push("t", wr.SerializeToString())
    assert len(h.writer.records) >= 3
