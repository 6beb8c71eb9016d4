"""The OTLP request converted in pieces is byte for byte the whole-message conversion."""

from __future__ import annotations

import random
import re

import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc

from tests.unit.protocol.test_pieces import random_request
from tidewell.protocol.errors import ProtocolError
from tidewell.protocol.otlp import SERIES_BATCH, decode_otlp_bytes, otlp_to_write_request
from tidewell.protocol.otlp_names import OTLPNaming


def whole(raw: bytes, nhcb: bool = False) -> tuple[bytes, list[str]]:
    """As before: one upb parse, one conversion, one ``SerializeToString``."""
    errors: list[str] = []
    wr = otlp_to_write_request(svc.ExportMetricsServiceRequest.FromString(raw), OTLPNaming(),
                               convert_histograms_to_nhcb=nhcb, errors=errors)
    return wr.SerializeToString(), errors


@pytest.mark.parametrize("seed", range(20))
def test_random_requests_convert_to_the_same_bytes(seed: int) -> None:
    raw = random_request(random.Random(seed)).SerializeToString()
    for nhcb in (False, True):
        errors: list[str] = []
        got = decode_otlp_bytes(raw, convert_histograms_to_nhcb=nhcb, errors=errors)
        assert (got, errors) == whole(raw, nhcb)


def test_a_request_over_several_batches_converts_to_the_same_bytes() -> None:
    """Series and metadata both span several ``SerializeToString`` batches."""
    req = svc.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.add(key="service.name").value.string_value = "svc"
    rm.resource.attributes.add(key="host").value.string_value = "h"  # a target_info series
    metrics = rm.scope_metrics.add().metrics
    for m in range(SERIES_BATCH + 300):  # as many metadata entries
        metrics.add(name=f"g{m}").gauge.data_points.add(time_unix_nano=10**15, as_int=m)
    hist = metrics.add(name="h").histogram
    hist.aggregation_temporality = 2
    for p in range(SERIES_BATCH // 3):  # 4 series each, a batch ends inside them
        dp = hist.data_points.add(time_unix_nano=10**15, count=2, sum=1.0)
        dp.attributes.add(key="p").value.int_value = p
        dp.explicit_bounds.extend([0.5, 1.0])
        dp.bucket_counts.extend([1, 1, 0])
        dp.exemplars.add(as_double=0.7, time_unix_nano=10**15)
    raw = req.SerializeToString()
    got = decode_otlp_bytes(raw)
    want, _ = whole(raw)
    assert got == want
    assert want.count(b"g1299") == 2  # the last gauge: its series and its metadata


def test_malformed_protobuf_is_refused() -> None:
    raw = random_request(random.Random(3)).SerializeToString()
    for bad in (raw[:-1], b"\x0a\x05ab", b"\x00"):
        with pytest.raises(ProtocolError, match=re.escape(
                "failed to parse OTLP request: Error parsing message with type "
                "'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'")):
            decode_otlp_bytes(bad)
