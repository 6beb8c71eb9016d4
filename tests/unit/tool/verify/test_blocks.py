from __future__ import annotations

import json
import time
from pathlib import Path

from ulid import ULID

from tidewell.objstore import FilesystemBucket
from tidewell.objstore.bucketindex import update_bucket_index
from tidewell.tool.verify.blocks import check_blocks
from tidewell.tool.verify.report import Status

NOW = 1_800_000_000.0
H = 3600.0


def put_block(bucket: FilesystemBucket, tenant: str, ends_ago_s: float) -> str:
    block_id = str(ULID())
    maxt = int((NOW - ends_ago_s) * 1000)
    meta = {"ulid": block_id, "minTime": maxt - 7_200_000, "maxTime": maxt, "version": 1,
            "compaction": {"level": 1, "sources": [block_id]},
            "thanos": {"labels": {}, "source": "receive", "segment_files": ["000001"]}}
    bucket.put(f"{tenant}/{block_id}/chunks/000001", b"x")
    bucket.put(f"{tenant}/{block_id}/index", b"x")
    bucket.put(f"{tenant}/{block_id}/meta.json", json.dumps(meta).encode())
    return block_id


def run(bucket: FilesystemBucket, now: float = NOW) -> dict[tuple[str, str], tuple[Status, str]]:
    return {(r.check, r.subject): (r.status, r.reason)
            for r in check_blocks(bucket, 2 * H, 2 * H, 15 * 60, now=now)}


def test_recent_blocks_and_a_complete_index_pass(tmp_path: Path) -> None:
    b = FilesystemBucket(tmp_path)
    put_block(b, "team-a", 3 * H)
    newest = put_block(b, "team-a", 1 * H)
    update_bucket_index(b, "team-a", now=NOW)
    got = run(b)
    status, reason = got[("blocks", "tenant team-a")]
    assert status is Status.PASS
    assert reason == (f"newest block {newest} ends 1h0m0s ago (2 blocks), within 2h0m0s block "
                      "range + 2h0m0s grace")
    assert got[("bucket-index", "tenant team-a")] == (
        Status.PASS, "updated 0s ago, lists all 2 blocks")


def test_shipping_stopped_fails(tmp_path: Path) -> None:
    b = FilesystemBucket(tmp_path)
    put_block(b, "team-a", 4 * H + 60)
    update_bucket_index(b, "team-a", now=NOW)
    status, reason = run(b)[("blocks", "tenant team-a")]
    assert status is Status.FAIL
    assert "ends 4h1m0s ago" in reason and "stopped shipping" in reason


def test_blocks_without_an_index_fail(tmp_path: Path) -> None:
    b = FilesystemBucket(tmp_path)
    put_block(b, "team-a", H)
    status, reason = run(b)[("bucket-index", "tenant team-a")]
    assert status is Status.FAIL and reason.startswith("no bucket-index.json.gz while 1 blocks")


def test_index_missing_an_old_block_fails_but_a_new_one_is_allowed(tmp_path: Path) -> None:
    b = FilesystemBucket(tmp_path)
    put_block(b, "team-a", 3 * H)
    update_bucket_index(b, "team-a", now=NOW)
    put_block(b, "team-a", H)  # uploaded "now" (file mtime): within the index grace
    assert run(b, now=time.time())[("bucket-index", "tenant team-a")][0] is Status.PASS
    status, reason = run(b, now=time.time() + 20 * 60)[("bucket-index", "tenant team-a")]
    assert status is Status.FAIL and "misses 1 blocks uploaded more than 15m0s ago" in reason


def test_empty_bucket_and_non_tenant_directories(tmp_path: Path) -> None:
    b = FilesystemBucket(tmp_path)
    assert run(b) == {("blocks", "bucket"): (
        Status.WARN, "no tenant has blocks in the bucket yet")}
    b.put("__mimir_cluster/cluster-seed.json", b"{}")
    b.put("new-tenant/bucket-index.json.gz.tmp", b"")
    got = run(b)
    assert list(got) == [("blocks", "tenant new-tenant")]
    assert got[("blocks", "tenant new-tenant")][0] is Status.WARN
