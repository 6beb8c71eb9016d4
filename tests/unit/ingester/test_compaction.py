"""Head compaction inside the ingester: local blocks, queries over head + blocks, restarts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tidewell.ingest.config import IngestStorageConfig
from tidewell.ingester import Ingester, IngesterConfig, IngesterRingConfig, StaticLimits
from tidewell.ingester.head_cutting import CUT_FILENAME, cut_blocks, local_blocks
from tidewell.ingester.shipper import apply_retention
from tidewell.model import Labels
from tidewell.objstore import FilesystemBucket
from tidewell.tsdb.block import BlockReader
from tidewell.tsdb.config import TSDBConfig
from tidewell.tsdb.head import HeadQuerier

from .conftest import new_log, record

pytestmark = [pytest.mark.timeout(60), pytest.mark.anyio]

P = 3
R = 10.0  # seconds per block
SERIES = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(3)]


def make(log, data_dir: Path, *, ooo: float = 0.0, bucket=None, retention: float = 3600.0,
         snapshot_on_shutdown: bool = True) -> Ingester:
    ingest = IngestStorageConfig()
    ingest.kafka.consumer_group_offset_commit_interval = 0.05
    cfg = IngesterConfig(ring=IngesterRingConfig(instance_id=f"ingester-zone-a-{P}"),
                         fetch_wait=0.05)
    tsdb = TSDBConfig(block_ranges_period=R, head_compaction_interval=3600.0,
                      ship_interval=3600.0, retention_period=retention,
                      memory_snapshot_on_shutdown=snapshot_on_shutdown)
    return Ingester(cfg, tsdb, ingest, StaticLimits(ooo_window_s=ooo), log, str(data_dir),
                    bucket=bucket)


async def push(log, times: range, tenant: str = "t1", value=lambda i, t: t / 1000 + i) -> int:
    last = -1
    for t in times:
        (last,) = await log.produce(
            [record(P, tenant, [(s, t, float(value(i, t))) for i, s in enumerate(SERIES)])]
        )
    return last


def dump(ing: Ingester, tenant: str = "t1") -> dict[Labels, list[tuple[int, float]]]:
    return {
        s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
        for s in ing.querier(tenant, 0, 10**12).select([])
    }


def expected(times: range) -> dict[Labels, list[tuple[int, float]]]:
    return {s: [(t, t / 1000 + i) for t in times] for i, s in enumerate(SERIES)}


def dups() -> float:
    return REGISTRY.get_sample_value("tidewell_ingester_duplicate_samples_total",
                                     {"user": "t1"}) or 0.0


async def test_cuts_blocks_queries_merge_and_restart(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    times = range(0, 60_000, 500)  # one minute, 2 samples/s
    last = await push(log, times)
    ing = make(log, tmp_path / "ing")
    await ing.start()
    await ing.wait_for_offset(last, 10)
    series_before = REGISTRY.get_sample_value("cortex_ingester_memory_series")
    assert await ing.compact() == 5  # [0,10s) ... [40s,50s); 50-60s stays (1.5-range rule)
    blocks = local_blocks(tmp_path / "ing" / "tsdb" / "tenants" / "t1")
    assert len(blocks) == 5
    metas = [json.loads((b / "meta.json").read_text()) for b in blocks]
    assert [(mt["minTime"], mt["maxTime"]) for mt in metas] == [
        (k * 10_000, (k + 1) * 10_000) for k in range(5)
    ]
    assert all(mt["thanos"]["source"] == "receive" and mt["thanos"]["labels"] == {}
               for mt in metas)
    assert all(mt["stats"]["numSamples"] == 3 * 20 for mt in metas)
    assert all((b / CUT_FILENAME).exists() for b in blocks)
    head = ing.tenant_tsdb("t1").head
    assert head.min_valid_time == 50_000
    assert head.num_samples() == 3 * 20  # only 50-60s left in memory
    assert REGISTRY.get_sample_value("cortex_ingester_memory_series") == series_before
    assert dump(ing) == expected(times)
    # A query inside one block's range reads that block alone.
    part = ing.querier("t1", 12_000, 13_000).select([])
    assert [s.timestamps.tolist() for s in part] == [[12_000, 12_500, 13_000]] * 3
    await ing.stop()

    d0 = dups()
    ing2 = make(log, tmp_path / "ing")
    await ing2.start()
    assert dump(ing2) == expected(times)
    assert len(ing2.tenant_tsdb("t1").blocks) == 5
    assert await ing2.compact() == 0
    assert dups() == d0
    await ing2.stop()


async def test_crash_between_block_cut_and_snapshot_is_exact(tmp_path: Path) -> None:
    """Blocks on disk, but the snapshot and WAL from before the cut (the crash window)."""
    log = new_log(str(tmp_path / "log"))
    times = range(0, 40_000, 500)
    last = await push(log, times)
    data = tmp_path / "ing"
    ing = make(log, data, snapshot_on_shutdown=False)
    await ing.start()
    await ing.wait_for_offset(last, 10)
    await ing.snapshot_now()
    tsdb_dir = data / "tsdb"
    saved = tmp_path / "saved"
    shutil.copytree(tsdb_dir, saved)
    assert await ing.compact() == 3
    # More records after the cut, including a sample the cut makes late (older than
    # the blocks' end): kept out of order.
    more = range(40_000, 50_000, 500)
    last = await push(log, more)
    (late_offset,) = await log.produce([record(P, "t1", [(SERIES[0], 15_250, 9.0)])])
    await ing.wait_for_offset(late_offset, 10)
    want = dump(ing)
    assert want == {**expected(range(0, 50_000, 500)),
                    SERIES[0]: sorted([*expected(range(0, 50_000, 500))[SERIES[0]],
                                       (15_250, 9.0)])}
    await ing.stop()
    # "Crash": restore the snapshot and WAL from before the cut, keep the blocks.
    for name in ("snapshots", "wal"):
        shutil.rmtree(tsdb_dir / name)
        shutil.copytree(saved / name, tsdb_dir / name)

    d0 = dups()
    ing2 = make(log, data)
    await ing2.start()
    await ing2.wait_for_offset(late_offset, 10)
    head = ing2.tenant_tsdb("t1").head
    assert head.min_valid_time == 30_000  # truncation replayed at the cut's offset
    # 30-50s and the late sample, once: nothing that the blocks hold
    assert head.num_samples() == 3 * 40 + 1
    assert dump(ing2) == want
    assert dups() == d0
    # [30s,40s), and the late sample alone in an out-of-order block; never [0,30s) again
    assert await ing2.compact() == 2
    assert len(local_blocks(tsdb_dir / "tenants" / "t1")) == 5
    assert dump(ing2) == want
    await ing2.stop()


async def test_out_of_order_samples_go_to_their_own_blocks(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    last = await push(log, range(0, 40_000, 1000))
    ing = make(log, tmp_path / "ing", ooo=30.0)
    await ing.start()
    await ing.wait_for_offset(last, 10)
    assert await ing.compact() == 3  # [0,10s) ... [20s,30s)
    (last,) = await log.produce([record(P, "t1", [(SERIES[0], 15_500, -1.0),
                                                  (SERIES[0], 16_500, -2.0)])])
    await ing.wait_for_offset(last, 10)
    assert dump(ing)[SERIES[0]][15:19] == [(15_000, 15.0), (15_500, -1.0), (16_000, 16.0),
                                           (16_500, -2.0)]
    assert await ing.compact() == 1
    blocks = local_blocks(tmp_path / "ing" / "tsdb" / "tenants" / "t1")
    metas = {b.name: json.loads((b / "meta.json").read_text()) for b in blocks}
    ooo = [mt for mt in metas.values() if mt["compaction"].get("hints")]
    assert len(ooo) == 1
    assert ooo[0]["compaction"]["hints"] == ["from-out-of-order"]
    assert (ooo[0]["minTime"], ooo[0]["maxTime"]) == (15_500, 16_501)
    with BlockReader(tmp_path / "ing" / "tsdb" / "tenants" / "t1" / ooo[0]["ulid"]) as b:
        (s,) = b.querier(0, 10**9).select([])
        assert s.values.tolist() == [-1.0, -2.0]
    assert ing.tenant_tsdb("t1").head.num_samples() == 3 * 10
    assert len(dump(ing)[SERIES[0]]) == 42
    await ing.stop()


async def test_local_retention_deletes_only_shipped_blocks(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    last = await push(log, range(0, 60_000, 1000))
    bucket_dir = tmp_path / "bucket"
    ing = make(log, tmp_path / "ing", bucket=FilesystemBucket(bucket_dir), retention=20.0)
    await ing.start()
    await ing.wait_for_offset(last, 10)
    assert await ing.compact() == 5
    tdir = tmp_path / "ing" / "tsdb" / "tenants" / "t1"
    # nothing shipped yet: all kept
    assert await apply_retention(ing.tenants, ing.layout.tenant_dir, ing.shipper, 20_000) == 0
    assert len(local_blocks(tdir)) == 5
    assert await ing.ship() == 5  # ship() uploads all, then applies retention
    left = local_blocks(tdir)
    # newest block ends at 50s; retention 20s keeps blocks ending after 30s
    assert [json.loads((b / "meta.json").read_text())["maxTime"] for b in left] == [
        40_000, 50_000
    ]
    assert len(ing.tenant_tsdb("t1").blocks) == 2
    assert dump(ing) == {s: v[30:] for s, v in expected(range(0, 60_000, 1000)).items()}
    await ing.stop()


async def test_without_bucket_retention_applies_by_age(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    last = await push(log, range(0, 60_000, 1000))
    ing = make(log, tmp_path / "ing", retention=10.0)
    await ing.start()
    await ing.wait_for_offset(last, 10)
    assert await ing.compact() == 5
    assert await ing.ship() == 0
    left = local_blocks(tmp_path / "ing" / "tsdb" / "tenants" / "t1")
    assert [json.loads((b / "meta.json").read_text())["maxTime"] for b in left] == [
        50_000
    ]
    await ing.stop()


async def test_tenant_dirs_do_not_clash_with_wal_and_snapshots(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    last = 0
    for tenant in ("wal", "snapshots", "tenants"):
        last = await push(log, range(0, 40_000, 1000), tenant=tenant)
    ing = make(log, tmp_path / "ing")
    await ing.start()
    await ing.wait_for_offset(last, 10)
    assert await ing.compact() == 9
    await ing.snapshot_now()
    await ing.stop()
    tsdb = tmp_path / "ing" / "tsdb"
    assert sorted(p.name for p in tsdb.iterdir()) == ["snapshots", "tenants", "wal"]
    for internal in ("wal", "snapshots"):
        assert local_blocks(tsdb / internal) == []
    for tenant in ("wal", "snapshots", "tenants"):
        assert len(local_blocks(tsdb / "tenants" / tenant)) == 3
    ing2 = make(log, tmp_path / "ing")
    await ing2.start()
    for tenant in ("wal", "snapshots", "tenants"):
        assert len(dump(ing2, tenant)[SERIES[0]]) == 40
    await ing2.stop()


async def test_query_racing_a_cut_sees_every_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The head is read before the block list is taken: a cut in between loses nothing."""
    log = new_log(str(tmp_path / "log"))
    times = range(0, 40_000, 1000)
    last = await push(log, times)
    ing = make(log, tmp_path / "ing")
    await ing.start()
    await ing.wait_for_offset(last, 10)
    real_select = HeadQuerier.select
    cuts: list[int] = []

    def cut_then_select(self: HeadQuerier, *args: object, **kwargs: object) -> object:
        if not cuts:  # the cut lands after the query started, just before it reads the head
            cuts.append(cut_blocks(ing.tenants, ing.layout.tenant_dir, ing.durable_offset()))
        return real_select(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(HeadQuerier, "select", cut_then_select)
    series = ing.tenant_tsdb("t1").querier(0, 10**9).select([])
    assert cuts == [3]  # [0,30s) moved into blocks during the query
    assert {s.labels: s.timestamps.tolist() for s in series} == {
        labels: list(times) for labels in SERIES}
    monkeypatch.undo()
    assert dump(ing) == expected(times)
    assert await ing.stored_samples("t1") == (3 * 40, 3)
    await ing.stop()
