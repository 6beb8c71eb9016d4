"""Backfill promtool-made blocks with the ``tidewell tool backfill`` command, then read them
back through the store-gateway and compare with ``promtool tsdb dump``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.tsdb.tsdb_helpers import (
    PROMTOOL,
    dump_samples,
    go_labels,
    realistic_series,
    to_openmetrics,
    value_key,
)
from tidewell.model.matchers import Matcher, MatchType
from tidewell.objstore import FilesystemBucket, InstrumentedBucket
from tidewell.objstore.bucketindex import read_bucket_index
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway

pytestmark = pytest.mark.timeout(120)

START = 1_700_006_400_000


def promtool_blocks(tmp: Path, name: str, start_ms: int, hours: float, n: int = 40) -> Path:
    series = realistic_series(n, hours=hours, start_ms=start_ms, specials=True, jitter_ms=0)
    om = tmp / f"{name}.om"
    om.write_text(to_openmetrics(series))
    out = tmp / name
    subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(om), str(out)],
                   check=True, capture_output=True, timeout=60)
    return out


def backfill(bucket_dir: Path, *dirs: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tidewell", "tool", "backfill", "--tenant", "team-a",
         f"-blocks-storage.filesystem.dir={bucket_dir}", *map(str, dirs)],
        capture_output=True, text=True, timeout=90, check=False,
    )


def metric(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_backfill_and_query_back(tmp_path: Path) -> None:
    blocks = promtool_blocks(tmp_path, "data", START + 1_800_000, hours=3, n=200)
    assert len(list(blocks.iterdir())) >= 2  # 2h-aligned blocks: several of them
    bucket_dir = tmp_path / "bucket"
    res = backfill(bucket_dir, blocks)
    assert res.returncode == 0, res.stderr
    assert "uploaded " in res.stderr and "backfilled" in res.stderr  # plain lines: no TTY

    bucket = InstrumentedBucket(FilesystemBucket(bucket_dir), "e2e-backfill-sg")
    idx = read_bucket_index(bucket, "team-a")
    assert {b.block_id for b in idx.blocks} == {p.name for p in blocks.iterdir()}
    gw = StoreGateway(BucketStoreConfig(), bucket, tmp_path / "sync")
    gw.sync()

    # Everything, exactly as promtool dumps it.
    q = gw.querier("team-a", START - 10**7, START + 10**8)
    got = q.select([Matcher(MatchType.REGEX, "__name__", ".+")])
    rows = sorted(
        (go_labels(s.labels), t, value_key(v))
        for s in got
        for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
    )
    assert rows == dump_samples(blocks)

    # One series: chunks come by ranged reads, never the whole segment file.
    gw2 = StoreGateway(BucketStoreConfig(chunks_page_size_bytes=4096), bucket, tmp_path / "sync2")
    gw2.sync()
    seg_bytes = sum(p.stat().st_size for p in bucket_dir.glob("team-a/*/chunks/*"))
    before = metric("thanos_objstore_bucket_operation_fetched_bytes_total",
                    component="e2e-backfill-sg", operation="get_range")
    one = gw2.querier("team-a", START - 10**7, START + 10**8).select(
        [Matcher(MatchType.EQUAL, "series", "7")]
    )
    assert len(one) == 1 and len(one[0]) == 720
    fetched = metric("thanos_objstore_bucket_operation_fetched_bytes_total",
                     component="e2e-backfill-sg", operation="get_range") - before
    assert 0 < fetched < seg_bytes / 10


def test_overlapping_and_corrupt_blocks_are_refused(tmp_path: Path) -> None:
    bucket_dir = tmp_path / "bucket"
    first = promtool_blocks(tmp_path, "first", START, hours=2, n=5)
    assert backfill(bucket_dir, first).returncode == 0
    index_before = (bucket_dir / "team-a" / "bucket-index.json.gz").read_bytes()

    overlapping = promtool_blocks(tmp_path, "overlap", START + 3_600_000, hours=0.5, n=5)
    res = backfill(bucket_dir, overlapping)
    assert res.returncode == 1
    assert "overlaps block" in res.stderr and "already in tenant 'team-a'" in res.stderr
    assert "nothing uploaded" in res.stderr

    corrupt = promtool_blocks(tmp_path, "corrupt", START + 48 * 3_600_000, hours=1, n=5)
    seg = next(corrupt.iterdir()) / "chunks" / "000001"
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x20
    seg.write_bytes(bytes(data))
    res = backfill(bucket_dir, corrupt)
    assert res.returncode == 1
    assert "corrupt block" in res.stderr and "nothing uploaded" in res.stderr

    names = {p.name for p in (bucket_dir / "team-a").iterdir()}
    assert not names & {p.name for p in overlapping.iterdir()}
    assert not names & {p.name for p in corrupt.iterdir()}
    assert (bucket_dir / "team-a" / "bucket-index.json.gz").read_bytes() == index_before
