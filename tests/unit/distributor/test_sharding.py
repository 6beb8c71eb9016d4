"""Sharding and record building: Mimir's FNV-1 token, stable placement, lossless splits."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.metrics import metric_value
from tests.unit.distributor.helpers import Harness, series
from tidewell.distributor import Limits
from tidewell.distributor.kernels import fnv1_32
from tidewell.model import Labels
from tidewell.protocol.pb import prompb_pb2 as pb

names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True)
label_sets = st.dictionaries(names, st.text(min_size=1, max_size=10), max_size=5).map(
    lambda d: Labels.from_dict({**d, "__name__": "metric_x"})
)


def test_fnv1_32_known_vectors():
    # FNV-1 (not 1a) reference values, as Go's hash/fnv New32 and Mimir's HashAdd32.
    assert fnv1_32(b"") == 0x811C9DC5
    assert fnv1_32(b"a") == 0x050C5D7E
    assert fnv1_32(b"foobar") == 0x31F0B262


def test_token_is_tenant_then_names_and_values():
    """Each series lands on the partition its token (Mimir's) owns on the ring."""
    h = Harness(partitions=16)
    wr = pb.WriteRequest()
    jobs = [f"{i}-api" for i in range(64)]  # FNV-1 spreads what differs early
    for job in jobs:
        series(wr, {"__name__": "up", "job": job}, sort=True)
    h.push("tenant-1", wr.SerializeToString())
    placed = {}
    for rec in h.writer.records:
        for ts in pb.WriteRequest.FromString(rec.value).timeseries:
            placed[ts.labels[1].value] = rec.partition
    seed = fnv1_32(b"tenant-1")
    assert placed == {
        job: h.ring.active_partition_for(fnv1_32(f"__name__upjob{job}".encode(), seed))
        for job in jobs
    }
    assert len(set(placed.values())) > 8  # the series are spread: placement says something


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(label_sets, min_size=1, max_size=30, unique=True), st.integers(1200, 6000))
def test_split_records_round_trip_unchanged(sets, max_record):
    h = Harness(partitions=4, max_record_size=max_record)
    wr = pb.WriteRequest()
    now = int(time.time() * 1000)
    expected = {}
    for i, labels in enumerate(sets):
        samples = [(now - k, float(i * 10 + k)) for k in range(3)]
        series(wr, list(labels), samples)
        expected[labels] = samples
    h.push("prop", wr.SerializeToString())
    assert h.writer.series() == expected
    for rec in h.writer.records:
        n_series = len(pb.WriteRequest.FromString(rec.value).timeseries)
        assert len(rec.value) <= max_record or n_series == 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(label_sets, min_size=1, max_size=10, unique=True))
def test_same_series_always_lands_on_the_same_partition(sets):
    placements = []
    for _ in range(2):
        h = Harness(partitions=5)
        for labels in sets:  # one push per series, then all together
            wr = pb.WriteRequest()
            series(wr, list(labels))
            h.push("t", wr.SerializeToString())
        placement = {}
        for rec in h.writer.records:
            for ts in pb.WriteRequest.FromString(rec.value).timeseries:
                key = tuple((lab.name, lab.value) for lab in ts.labels)
                assert placement.setdefault(key, rec.partition) == rec.partition
        placements.append(placement)
    assert placements[0] == placements[1]


def test_series_larger_than_a_record_is_400():
    h = Harness(limits=Limits(max_label_value_length=100_000), max_record_size=2000)
    wr = pb.WriteRequest()
    series(wr, {"__name__": "ok"})
    series(wr, {"__name__": "big", "v": "x" * 5000})
    import pytest

    from tidewell.distributor import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="max-write-request-data-item-size"):
        h.push("t", wr.SerializeToString())
    assert list(h.writer.series()) == [Labels.from_dict({"__name__": "ok"})]


def test_tenant_shard_size_limits_partitions():
    h = Harness(Limits(ingestion_partitions_tenant_shard_size=2), partitions=6)
    wr = pb.WriteRequest()
    for i in range(200):
        series(wr, {"__name__": "m", "i": str(i)})
    h.push("small-tenant", wr.SerializeToString())
    assert len({r.partition for r in h.writer.records}) == 2


def test_overrides_file_reload(tmp_path, caplog):
    from tidewell.distributor import Overrides, RuntimeConfigConfig
    from tidewell.distributor.metrics import RUNTIME_CONFIG_RELOAD_OK

    f = tmp_path / "overrides.yaml"
    f.write_text("overrides:\n  t1:\n    ingestion_rate: 5\n    creation_grace_period: 1m\n")
    ov = Overrides(Limits(), RuntimeConfigConfig(file=str(f)))
    assert ov.for_tenant("t1").ingestion_rate == 5.0
    assert ov.for_tenant("t1").creation_grace_period == 60.0
    assert ov.for_tenant("other").ingestion_rate == 10000.0
    f.write_text("overrides:\n  t1:\n    no_such_limit: 1\n")
    assert ov.reload() is False
    assert metric_value(RUNTIME_CONFIG_RELOAD_OK) == 0
    assert ov.for_tenant("t1").ingestion_rate == 5.0  # old values kept
    assert "failed to load runtime config" in caplog.text
    f.write_text("overrides:\n  t1:\n    ingestion_rate: 7\n")
    assert ov.reload() is True
    assert ov.for_tenant("t1").ingestion_rate == 7.0


def test_overrides_reload_loop_picks_up_changes(tmp_path):
    import asyncio

    from tidewell.distributor import Overrides, RuntimeConfigConfig

    f = tmp_path / "o.yaml"
    f.write_text("overrides:\n  a:\n    max_label_names_per_series: 5\n")

    async def body():
        ov = Overrides(Limits(), RuntimeConfigConfig(file=str(f), period=0.01))
        ov.start()
        try:
            assert ov.for_tenant("a").max_label_names_per_series == 5
            f.write_text("overrides:\n  a:\n    max_label_names_per_series: 6\n")
            for _ in range(300):
                if ov.for_tenant("a").max_label_names_per_series == 6:
                    break
                await asyncio.sleep(0.01)
            assert ov.for_tenant("a").max_label_names_per_series == 6
        finally:
            await ov.stop()

    asyncio.run(asyncio.wait_for(body(), 10))
