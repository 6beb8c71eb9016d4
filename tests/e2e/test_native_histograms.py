"""Native histograms pushed by RW 1.0, RW 2.0 and OTLP come back exactly through the query
API of the ``tidewell`` command (Prometheus's JSON ``histograms``): from the head, after a
restart, and from blocks in the bucket once the ingester's state is gone."""

from __future__ import annotations

import shutil
import time

import httpx
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Histogram
from tidewell.protocol import snappy_compress
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.pb import writev2_pb2 as pb2
from tidewell.protocol.prompb_model import histogram_to_pb

TENANT = {"X-Scope-OrgID": "team-h"}
RW1 = {**TENANT, "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}
RW2 = {**RW1, "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"}

INT_H = Histogram(schema=0, zero_threshold=0.001, zero_count=1, count=5, sum=4.5,
                  positive_spans=((0, 2),), positive_buckets=(1, 3), integer=True)
NHCB = Histogram(schema=-53, count=4, sum=2.0, positive_spans=((0, 3),),
                 positive_buckets=(1, 2, 1), custom_values=(0.1, 0.5), integer=True)
FLOAT_H = Histogram(schema=0, count=2.5, sum=-1.0, positive_spans=((1, 1),),
                    positive_buckets=(2.5,))

# Prometheus's JSON for them (boundaries: 0 = (a,b], 3 = [a,b]; empty buckets left out).
INT_JSON = {"count": "5", "sum": "4.5", "buckets": [
    [3, "-0.001", "0.001", "1"], [0, "0.5", "1", "1"], [0, "1", "2", "3"]]}
NHCB_JSON = {"count": "4", "sum": "2", "buckets": [
    [3, "-Inf", "0.1", "1"], [0, "0.1", "0.5", "2"], [0, "0.5", "+Inf", "1"]]}
FLOAT_JSON = {"count": "2.5", "sum": "-1", "buckets": [[0, "1", "2", "2.5"]]}
OTLP_JSON = {"count": "5", "sum": "4", "buckets": [[0, "1", "1.414213562373095", "2"],
                                                   [0, "1.414213562373095", "2", "3"]]}


def _rw1(t: int) -> bytes:
    wr = pb.WriteRequest()
    ts = wr.timeseries.add()
    ts.labels.add(name="__name__", value="rw1_h")
    histogram_to_pb(INT_H, t, ts.histograms.add())
    nh = wr.timeseries.add()
    nh.labels.add(name="__name__", value="rw1_nhcb")
    histogram_to_pb(NHCB, t, nh.histograms.add())
    return wr.SerializeToString()


def _rw2(t: int) -> bytes:
    req = pb2.Request()
    req.symbols.extend(["", "__name__", "rw2_h"])
    ts = req.timeseries.add()
    ts.labels_refs.extend([1, 2])
    ts.histograms.add().MergeFromString(histogram_to_pb(FLOAT_H, t).SerializeToString())
    return req.SerializeToString()


def _otlp(t: int) -> bytes:
    req = svc.ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "otlp_h"
    eh = metric.exponential_histogram
    eh.aggregation_temporality = mpb.AGGREGATION_TEMPORALITY_CUMULATIVE
    dp = eh.data_points.add(time_unix_nano=t * 1_000_000, count=5, sum=4.0, scale=1)
    dp.positive.bucket_counts.extend([2, 3])  # OTel indexes 0, 1 = Prometheus's 1, 2
    return req.SerializeToString()


def _query_range(url: str, metric: str, t: int) -> list[dict]:
    r = httpx.get(f"{url}/prometheus/api/v1/query_range", headers=TENANT, timeout=30,
                  params={"query": metric, "start": t / 1000, "end": t / 1000, "step": "1"})
    assert r.status_code == 200, r.text
    return r.json()["data"]["result"]


def _wait_for(url: str, metric: str, t: int, timeout_s: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        got = _query_range(url, metric, t)
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_histograms_from_every_protocol_read_back_exactly(tidewell: TidewellProcess) -> None:
    tidewell.args = [
        "-blocks-storage.tsdb.block-ranges-period=5m",
        "-blocks-storage.bucket-store.sync-interval=1s",
        "-querier.query-store-after=0",  # the head is deleted below: ask the store too
    ]
    tidewell.start()
    t = int(time.time() * 1000) // 1000 * 1000
    with httpx.Client(base_url=tidewell.url, timeout=30) as c:
        assert c.post("/api/v1/push", content=snappy_compress(_rw1(t)),
                      headers=RW1).status_code == 200
        r = c.post("/api/v1/push", content=snappy_compress(_rw2(t)), headers=RW2)
        assert r.status_code == 204
        assert r.headers["X-Prometheus-Remote-Write-Histograms-Written"] == "1"
        assert c.post("/otlp/v1/metrics", content=_otlp(t), headers={
            **TENANT, "Content-Type": "application/x-protobuf"}).status_code == 200
    want = {"rw1_h": INT_JSON, "rw1_nhcb": NHCB_JSON, "rw2_h": FLOAT_JSON, "otlp_h": OTLP_JSON}
    for phase in ("head", "restart", "blocks"):
        if phase == "restart":
            tidewell.stop()
            tidewell.start()
        elif phase == "blocks":
            assert httpx.post(f"{tidewell.url}/ingester/flush", timeout=120).status_code == 204
            assert list((tidewell.data_dir / "bucket" / "team-h").glob("*/chunks/000001"))
            tidewell.stop()
            shutil.rmtree(tidewell.data_dir / "tsdb")  # head, WAL, local blocks
            tidewell.start()
        for metric, body in want.items():
            (series,) = _wait_for(tidewell.url, metric, t)
            assert series["metric"] == {"__name__": metric}
            assert series["histograms"] == [[t / 1000, body]], (phase, metric)
            assert "values" not in series
