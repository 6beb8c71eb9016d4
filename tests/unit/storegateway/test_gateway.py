"""The store-gateway over a filesystem bucket: selection, merging, sync, caches, corruption."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np
import pytest

from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher, MatchType
from tidewell.model.samples import Series
from tidewell.objstore import Bucket, FilesystemBucket, InstrumentedBucket, tenant_bucket
from tidewell.objstore.bucketindex import deletion_mark_key, update_bucket_index
from tidewell.storegateway.config import BucketStoreConfig, ChunksCacheConfig
from tidewell.storegateway.gateway import StoreGateway
from tidewell.tsdb.block import BlockReader, CorruptBlockError

from .sg_helpers import HOUR, T0, make_series, metric, write_and_upload

pytestmark = pytest.mark.timeout(60)

EQ, NEQ, RE, NRE = MatchType.EQUAL, MatchType.NOT_EQUAL, MatchType.REGEX, MatchType.NOT_REGEX


def gateway(bucket: Bucket, tmp: Path, **kw: object) -> StoreGateway:
    gw = StoreGateway(BucketStoreConfig(**kw), bucket, tmp / "sync")  # type: ignore[arg-type]
    gw.sync()
    return gw


def expected(blocks: list[Path], matchers: list[Matcher], mint: int, maxt: int) -> dict:
    """What the TSDB's own block reader returns, merged by labels."""
    out: dict[Labels, list[tuple[int, float]]] = {}
    for b in blocks:
        with BlockReader(b) as r:
            for s in r.querier(mint, maxt).select(matchers):
                out.setdefault(s.labels, []).extend(pairs(s))
    return {k: sorted(dict(reversed(v)).items()) for k, v in out.items()}


def pairs(s: Series) -> list[tuple[int, float]]:
    return list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))


def as_dict(series: list[Series]) -> dict:
    return {s.labels: pairs(s) for s in series}


@pytest.fixture
def two_blocks(fs_bucket: FilesystemBucket, tmp_path: Path) -> tuple[StoreGateway, list[Path]]:
    local = tmp_path / "local"
    for k in range(2):
        series = make_series(30, T0 + 2 * k * HOUR, T0 + 2 * (k + 1) * HOUR, seed=k)
        write_and_upload(fs_bucket, "t1", local, series)
    return gateway(fs_bucket, tmp_path), sorted(local.iterdir())


@pytest.mark.parametrize(
    "matchers",
    [
        [Matcher(EQ, "__name__", "m")],
        [Matcher(EQ, "job", "j1")],
        [Matcher(RE, "i", "000[0-5]"), Matcher(NEQ, "job", "j0")],
        [Matcher(NRE, "i", "00.*"), Matcher(EQ, "__name__", "m")],
        [Matcher(EQ, "nope", "")],
        [Matcher(EQ, "job", "absent")],
    ],
)
@pytest.mark.parametrize(
    "rng",
    [(T0, T0 + 4 * HOUR), (T0 + HOUR + 7, T0 + 3 * HOUR - 7), (T0 + 2 * HOUR, T0 + 2 * HOUR),
     (T0 + 5 * HOUR, T0 + 6 * HOUR)],
)
def test_select_matches_block_reader(two_blocks, matchers, rng) -> None:  # type: ignore[no-untyped-def]
    gw, blocks = two_blocks
    got = gw.querier("t1", *rng).select(matchers)
    assert [s.labels for s in got] == sorted(s.labels for s in got)
    assert as_dict(got) == expected(blocks, matchers, *rng)
    for s in got:
        assert s.timestamps.dtype == np.int64 and s.values.dtype == np.float64
        assert np.all(np.diff(s.timestamps) > 0)


def test_labels_and_tenants(two_blocks) -> None:  # type: ignore[no-untyped-def]
    gw, _ = two_blocks
    q = gw.querier("t1", T0, T0 + 4 * HOUR)
    assert q.label_names() == ["__name__", "i", "job"]
    assert q.label_values("job") == ["j0", "j1", "j2"]
    assert q.label_values("i", [Matcher(EQ, "job", "j2")])[:2] == ["0002", "0005"]
    assert q.label_names([Matcher(EQ, "job", "absent")]) == []
    assert gw.querier("t1", T0 + 9 * HOUR, T0 + 10 * HOUR).label_names() == []
    assert gw.querier("other", T0, T0 + 4 * HOUR).select([Matcher(EQ, "__name__", "m")]) == []


def test_overlapping_blocks_are_merged_and_deduplicated(
    fs_bucket: FilesystemBucket, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    a = make_series(3, T0, T0 + HOUR, seed=1)
    # Zone b: same series, shifted by half an hour, values differ at shared timestamps.
    b = [(lb, ts + HOUR // 2, vs + 1e6) for lb, ts, vs in make_series(3, T0, T0 + HOUR, seed=2)]
    write_and_upload(fs_bucket, "t1", local, a, min_time=T0, max_time=T0 + HOUR)
    write_and_upload(fs_bucket, "t1", local, b, min_time=T0 + HOUR // 2,
                     max_time=T0 + 3 * HOUR // 2)
    gw = gateway(fs_bucket, tmp_path)
    got = gw.querier("t1", T0, T0 + 2 * HOUR).select([Matcher(EQ, "__name__", "m")])
    assert len(got) == 3
    for s, (_, ts_a, vs_a), (_, ts_b, vs_b) in zip(got, a, b, strict=True):
        want = dict(zip(ts_b.tolist(), vs_b.tolist(), strict=False))
        want.update(zip(ts_a.tolist(), vs_a.tolist(), strict=False))  # the earlier block wins
        assert pairs(s) == sorted(want.items())


def test_index_is_downloaded_lazily_and_chunks_by_range(
    fs_bucket: FilesystemBucket, tmp_path: Path
) -> None:
    series = make_series(400, T0, T0 + 2 * HOUR, seed=3)
    ulid = write_and_upload(fs_bucket, "t1", tmp_path / "local", series)
    gw = gateway(fs_bucket, tmp_path, chunks_page_size_bytes=4096, partitioner_max_gap_bytes=0)
    index_file = tmp_path / "sync" / "t1" / ulid / "index"
    assert not index_file.exists()
    segment = fs_bucket.attributes(f"t1/{ulid}/chunks/000001").size
    before = metric("cortex_bucket_store_series_data_size_fetched_bytes_total",
                    data_type="chunks")
    got = gw.querier("t1", T0, T0 + 2 * HOUR).select([Matcher(EQ, "i", "0123")])
    assert index_file.exists()
    assert len(got) == 1 and len(got[0]) == 480
    np.testing.assert_array_equal(got[0].values, series[123][2])
    fetched = metric("cortex_bucket_store_series_data_size_fetched_bytes_total",
                     data_type="chunks") - before
    assert 0 < fetched <= 3 * 4096 < segment / 10
    # A second query is served from the caches.
    hits = metric("cortex_bucket_store_chunks_cache_hits_total")
    again = gw.querier("t1", T0, T0 + 2 * HOUR).select([Matcher(EQ, "i", "0123")])
    np.testing.assert_array_equal(again[0].values, got[0].values)
    assert metric("cortex_bucket_store_chunks_cache_hits_total") > hits
    assert metric("cortex_bucket_store_series_data_size_fetched_bytes_total",
                  data_type="chunks") - before == fetched


def test_chunks_spanning_pages_and_refetch(tmp_path: Path) -> None:
    """Random values in 480-sample chunks make ~3.5 KB chunks: bigger than a 1 KiB page
    and than the first guess of a chunk's size, so records are fetched again."""
    rng = np.random.default_rng(5)
    ts = np.arange(T0, T0 + 2 * HOUR, 15_000, dtype=np.int64)
    series = [(Labels.from_dict({"__name__": "r", "i": str(i)}), ts, rng.random(ts.shape[0]))
              for i in range(20)]
    series.sort(key=lambda s: s[0])
    fs_bucket = InstrumentedBucket(FilesystemBucket(tmp_path / "bucket"), "sg-test")
    write_and_upload(fs_bucket, "t1", tmp_path / "local", series, samples_per_chunk=480)
    gw = gateway(fs_bucket, tmp_path, chunks_page_size_bytes=1024, partitioner_max_gap_bytes=0,
                 chunks_cache=ChunksCacheConfig(backend=""))
    before = metric("thanos_objstore_bucket_operations_total", component="sg-test",
                    operation="get_range")
    got = gw.querier("t1", T0, T0 + 2 * HOUR).select([Matcher(RE, "i", "1.*|7")])
    want = {lb: vs for lb, _, vs in series if lb.get("i") == "7" or lb.get("i").startswith("1")}
    assert {s.labels for s in got} == set(want)
    for s in got:
        np.testing.assert_array_equal(s.values, want[s.labels])
    # Reading them took more than the first round of ranged reads (12 series, 1 chunk each).
    assert metric("thanos_objstore_bucket_operations_total", component="sg-test",
                  operation="get_range") - before > 12
    segment = next((tmp_path / "local").iterdir()) / "chunks" / "000001"
    assert segment.stat().st_size / 20 > 3 * 1024  # so every chunk spans pages


def test_sync_picks_up_new_blocks_and_drops_deleted(
    fs_bucket: FilesystemBucket, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    first = write_and_upload(fs_bucket, "t1", local, make_series(5, T0, T0 + HOUR))
    now = [time.time()]
    gw = StoreGateway(BucketStoreConfig(ignore_deletion_mark_delay=600), fs_bucket,
                      tmp_path / "sync", now=lambda: now[0])
    gw.sync()
    sel = [Matcher(EQ, "__name__", "m")]
    q = gw.querier("t1", T0, T0 + 3 * HOUR)
    assert sum(len(s) for s in q.select(sel)) == 5 * 240
    second = write_and_upload(fs_bucket, "t1", local, make_series(5, T0 + HOUR, T0 + 2 * HOUR))
    assert sum(len(s) for s in gw.querier("t1", T0, T0 + 3 * HOUR).select(sel)) == 5 * 240
    gw.sync()
    assert sum(len(s) for s in gw.querier("t1", T0, T0 + 3 * HOUR).select(sel)) == 10 * 240
    assert (tmp_path / "sync" / "t1" / first / "index").exists()

    # Mark the first block for deletion: still served until the delay has passed.
    tb = tenant_bucket(fs_bucket, "t1")
    mark = {"id": first, "deletion_time": int(now[0]), "version": 1}
    tb.put(deletion_mark_key(first), json.dumps(mark).encode())
    update_bucket_index(fs_bucket, "t1")
    gw.sync()
    assert {b.id for b in gw.blocks("t1")} == {first, second}
    now[0] += 601
    drops = metric("cortex_bucket_store_block_drops_total")
    gw.sync()
    assert {b.id for b in gw.blocks("t1")} == {second}
    assert metric("cortex_bucket_store_block_drops_total") == drops + 1
    assert not (tmp_path / "sync" / "t1" / first).exists()
    got = gw.querier("t1", T0, T0 + 3 * HOUR).select(sel)
    assert all(s.timestamps[0] >= T0 + HOUR for s in got)

    # The tenant's index disappears: the tenant is forgotten.
    tb.delete("bucket-index.json.gz")
    gw.sync()
    assert gw.blocks("t1") == []
    assert not (tmp_path / "sync" / "t1").exists()


def test_corrupt_chunk_is_reported_not_returned(
    fs_bucket: FilesystemBucket, tmp_path: Path
) -> None:
    ulid = write_and_upload(fs_bucket, "t1", tmp_path / "local", make_series(5, T0, T0 + HOUR))
    seg = tmp_path / "bucket" / "t1" / ulid / "chunks" / "000001"
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x55
    seg.write_bytes(bytes(data))
    gw = gateway(fs_bucket, tmp_path)
    before = metric("cortex_bucket_store_corrupted_data_total", data_type="chunks")
    with pytest.raises(CorruptBlockError, match="CRC32C mismatch"):
        gw.querier("t1", T0, T0 + HOUR).select([Matcher(EQ, "__name__", "m")])
    assert metric("cortex_bucket_store_corrupted_data_total", data_type="chunks") == before + 1


def test_truncated_segment_and_index_are_reported(
    fs_bucket: FilesystemBucket, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    a = write_and_upload(fs_bucket, "t1", local, make_series(5, T0, T0 + HOUR))
    b = write_and_upload(fs_bucket, "t2", local, make_series(5, T0, T0 + HOUR))
    seg = tmp_path / "bucket" / "t1" / a / "chunks" / "000001"
    seg.write_bytes(seg.read_bytes()[: seg.stat().st_size - 100])
    idx = tmp_path / "bucket" / "t2" / b / "index"
    idx.write_bytes(idx.read_bytes()[:-10])
    gw = gateway(fs_bucket, tmp_path)
    sel = [Matcher(EQ, "__name__", "m")]
    with pytest.raises(CorruptBlockError, match="truncated"):
        gw.querier("t1", T0, T0 + HOUR).select(sel)
    with pytest.raises(CorruptBlockError):
        gw.querier("t2", T0, T0 + HOUR).select(sel)
    assert not (tmp_path / "sync" / "t2" / b / "index").exists()  # refetched next time


def test_service_lifecycle(fs_bucket: FilesystemBucket, tmp_path: Path) -> None:
    write_and_upload(fs_bucket, "t1", tmp_path / "local", make_series(2, T0, T0 + HOUR))

    async def run() -> None:
        gw = StoreGateway(BucketStoreConfig(sync_interval=0.05), fs_bucket, tmp_path / "sync")
        assert gw.ready()[0] is False
        await gw.start()
        assert gw.ready() == (True, "")
        assert len(gw.blocks("t1")) == 1
        write_and_upload(fs_bucket, "t1", tmp_path / "local",
                         make_series(2, T0 + HOUR, T0 + 2 * HOUR))
        for _ in range(400):  # the periodic sync finds the new block
            if len(gw.blocks("t1")) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(gw.blocks("t1")) == 2
        await gw.stop()
        assert gw.blocks("t1") == []

    asyncio.run(run())


def test_unknown_tenant_is_synced_on_demand_and_recent_blocks_ignored(
    fs_bucket: FilesystemBucket, tmp_path: Path
) -> None:
    gw = StoreGateway(BucketStoreConfig(), fs_bucket, tmp_path / "sync")
    gw.sync()  # nothing there yet
    write_and_upload(fs_bucket, "late", tmp_path / "local", make_series(2, T0, T0 + HOUR))
    got = gw.querier("late", T0, T0 + HOUR).select([Matcher(EQ, "__name__", "m")])
    assert len(got) == 2 and len(got[0]) == 240

    # Blocks starting within ignore_blocks_within of now are left to the ingesters.
    def loaded(ignore_within_h: float) -> int:
        now = (T0 + 2 * HOUR) / 1000  # the block starts 2h before "now"
        cfg = BucketStoreConfig(ignore_blocks_within=ignore_within_h * 3600)
        g = StoreGateway(cfg, fs_bucket, tmp_path / f"sync-{ignore_within_h}", now=lambda: now)
        g.sync()
        return len(g.blocks("late"))

    assert loaded(3) == 0
    assert loaded(1) == 1
