"""The per-tenant bucket index: Mimir's JSON, complete blocks only, deletion marks
from both locations, reuse of the stored index, and clear errors when unreadable."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest
from ulid import ULID

from tidewell.objstore import Bucket, FilesystemBucket, ObjectNotFoundError
from tidewell.objstore.bucketindex import (
    BlockDeletionMark,
    BucketIndex,
    BucketIndexCorruptedError,
    BucketIndexNotFoundError,
    IndexBlock,
    build_bucket_index,
    delete_bucket_index,
    deletion_mark_key,
    read_bucket_index,
    update_bucket_index,
    write_bucket_index,
)

T = "tenant-1"


@pytest.fixture
def bucket(tmp_path: Path) -> Bucket:
    return FilesystemBucket(tmp_path, fsync=False)


def _id(n: int) -> str:
    return str(ULID.from_timestamp(1_700_000_000 + n))


def meta(block_id: str, mint: int, maxt: int, **extra: object) -> dict[str, object]:
    """A meta.json as Mimir's ingesters write it."""
    doc: dict[str, object] = {
        "ulid": block_id,
        "minTime": mint,
        "maxTime": maxt,
        "stats": {"numSamples": 10, "numSeries": 2, "numChunks": 2},
        "compaction": {"level": 1, "sources": [block_id]},
        "version": 1,
        "thanos": {
            "labels": {},
            "downsample": {"resolution": 0},
            "source": "ingester",
            "segment_files": ["000001"],
            "files": [
                {"rel_path": "chunks/000001", "size_bytes": 100},
                {"rel_path": "index", "size_bytes": 200},
                {"rel_path": "meta.json"},
            ],
        },
    }
    doc.update(extra)
    return doc


def upload_block(bucket: Bucket, block_id: str, mint: int, maxt: int, *, complete: bool = True,
                 tenant: str = T, **extra: object) -> None:
    bucket.put(f"{tenant}/{block_id}/chunks/000001", b"chunks")
    bucket.put(f"{tenant}/{block_id}/index", b"index")
    if complete:
        doc = json.dumps(meta(block_id, mint, maxt, **extra)).encode()
        bucket.put(f"{tenant}/{block_id}/meta.json", doc)


def mark_deleted(bucket: Bucket, block_id: str, when: int, *, global_location: bool = True,
                 local_location: bool = True) -> None:
    doc = json.dumps({"id": block_id, "version": 1, "details": "", "deletion_time": when}).encode()
    if global_location:
        bucket.put(f"{T}/{deletion_mark_key(block_id)}", doc)
    if local_location:
        bucket.put(f"{T}/{block_id}/deletion-mark.json", doc)


def test_index_lists_complete_blocks_with_mimir_fields(bucket: Bucket) -> None:
    a, b, partial = _id(1), _id(2), _id(3)
    upload_block(bucket, b, 7_200_000, 14_400_000)
    upload_block(
        bucket, a, 0, 7_200_000,
        thanos={"labels": {"__compactor_shard_id__": "1_of_4", "zone": "a"}, "source": "compactor",
                "files": [{"rel_path": "chunks/000001"}, {"rel_path": "chunks/000002"},
                          {"rel_path": "index"}]},
        compaction={"level": 3, "sources": [a], "hints": ["from-out-of-order"]},
    )
    upload_block(bucket, partial, 0, 100, complete=False)
    bucket.put(f"{T}/not-a-block/meta.json", b"{}")
    upload_block(bucket, _id(9), 0, 1, tenant="other-tenant")

    index = update_bucket_index(bucket, T, now=1_750_000_000)
    assert [blk.block_id for blk in index.blocks] == [a, b]  # by min time
    first = index.blocks[0]
    assert (first.min_time, first.max_time) == (0, 7_200_000)
    assert first.compactor_shard_id == "1_of_4"
    assert first.source == "compactor"
    assert first.compaction_level == 3
    assert first.out_of_order is True
    assert first.segments_format == "1b6d" and first.segments_num == 2
    assert first.segment_files() == ["000001", "000002"]
    assert first.labels == {"__compactor_shard_id__": "1_of_4", "zone": "a"}
    meta_mtime = bucket.attributes(f"{T}/{a}/meta.json").last_modified
    assert first.uploaded_at == int(meta_mtime)
    assert index.updated_at == 1_750_000_000

    # Stored as Mimir stores it: gzip member named bucket-index.json, compact JSON.
    raw = bucket.get(f"{T}/bucket-index.json.gz")
    assert raw[:2] == b"\x1f\x8b" and b"bucket-index.json\x00" in raw[:40]
    doc = json.loads(gzip.decompress(raw))
    assert list(doc) == ["version", "blocks", "block_deletion_marks", "updated_at"]
    assert doc["version"] == 2
    assert doc["block_deletion_marks"] == []
    assert doc["blocks"][1] == {
        "block_id": b,
        "min_time": 7_200_000,
        "max_time": 14_400_000,
        "segments_format": "1b6d",
        "segments_num": 1,
        "uploaded_at": int(bucket.attributes(f"{T}/{b}/meta.json").last_modified),
        "source": "ingester",
        "compaction_level": 1,
    }
    assert read_bucket_index(bucket, T) == index


def test_partial_and_corrupt_blocks_are_reported_and_left_out(bucket: Bucket, caplog) -> None:
    good, partial, corrupt, wrong_version = _id(1), _id(2), _id(3), _id(4)
    upload_block(bucket, good, 0, 10)
    upload_block(bucket, partial, 0, 10, complete=False)
    upload_block(bucket, corrupt, 0, 10, complete=False)
    bucket.put(f"{T}/{corrupt}/meta.json", b"{not json")
    upload_block(bucket, wrong_version, 0, 10, version=2)
    with caplog.at_level(logging.WARNING, logger="tidewell.storegateway"):
        index, partials = build_bucket_index(bucket, T)
    assert [blk.block_id for blk in index.blocks] == [good]
    assert set(partials) == {partial, corrupt, wrong_version}
    assert "partial" in partials[partial]
    assert "corrupted" in partials[corrupt]
    assert "version" in partials[wrong_version]
    assert corrupt in caplog.text


def test_deletion_marks_from_both_locations(bucket: Bucket) -> None:
    a, b, c = _id(1), _id(2), _id(3)
    for i, blk in enumerate((a, b, c)):
        upload_block(bucket, blk, i * 10, i * 10 + 10)
    mark_deleted(bucket, a, 1_700_000_100)  # both locations, as Mimir writes
    mark_deleted(bucket, b, 1_700_000_200, global_location=False)  # old layout only
    bucket.put(f"{T}/markers/{c}-no-compact-mark.json", b"{}")  # not a deletion mark
    index = update_bucket_index(bucket, T)
    assert index.block_deletion_marks == [
        BlockDeletionMark(a, 1_700_000_100),
        BlockDeletionMark(b, 1_700_000_200),
    ]
    assert len(index.blocks) == 3  # marked blocks stay listed until deleted
    doc = json.loads(gzip.decompress(bucket.get(f"{T}/bucket-index.json.gz")))
    assert doc["block_deletion_marks"][0] == {"block_id": a, "deletion_time": 1_700_000_100}


def test_corrupt_deletion_mark_is_skipped(bucket: Bucket) -> None:
    a = _id(1)
    upload_block(bucket, a, 0, 10)
    bucket.put(f"{T}/{deletion_mark_key(a)}", b"garbage")
    index = update_bucket_index(bucket, T)
    assert index.block_deletion_marks == []
    assert [blk.block_id for blk in index.blocks] == [a]


def test_update_reuses_stored_entries_and_drops_deleted_blocks(bucket: Bucket) -> None:
    a, b, c = _id(1), _id(2), _id(3)
    upload_block(bucket, a, 0, 10)
    upload_block(bucket, b, 10, 20)
    update_bucket_index(bucket, T, now=1)
    # Blocks are immutable: a changed meta.json of an indexed block is not re-read...
    bucket.put(f"{T}/{a}/meta.json", json.dumps(meta(a, 0, 99)).encode())
    # ...a deleted block disappears, a new one appears.
    bucket.delete_prefix(f"{T}/{b}")
    upload_block(bucket, c, 20, 30)
    index = update_bucket_index(bucket, T, now=2)
    assert [(blk.block_id, blk.max_time) for blk in index.blocks] == [(a, 10), (c, 30)]
    assert read_bucket_index(bucket, T).updated_at == 2


def test_version_1_index_is_read_but_rebuilt(bucket: Bucket) -> None:
    a = _id(1)
    upload_block(bucket, a, 0, 10, thanos={"labels": {"__compactor_shard_id__": "2_of_2"}})
    old = BucketIndex(blocks=[IndexBlock(a, 0, 10)], version=1, updated_at=5)
    write_bucket_index(bucket, T, old)
    assert read_bucket_index(bucket, T).version == 1
    index = update_bucket_index(bucket, T)
    assert index.version == 2
    assert index.blocks[0].compactor_shard_id == "2_of_2"


def test_reads_go_nulls_and_unknown_fields(bucket: Bucket) -> None:
    doc = b'{"version":2,"blocks":null,"block_deletion_marks":null,"updated_at":7,"x":1}'
    bucket.put(f"{T}/bucket-index.json.gz", gzip.compress(doc))
    index = read_bucket_index(bucket, T)
    assert index.blocks == [] and index.block_deletion_marks == [] and index.updated_at == 7


def test_missing_and_corrupted_index_errors(bucket: Bucket) -> None:
    with pytest.raises(BucketIndexNotFoundError):
        read_bucket_index(bucket, T)
    bucket.put(f"{T}/bucket-index.json.gz", b"not gzip at all")
    with pytest.raises(BucketIndexCorruptedError, match="gzip"):
        read_bucket_index(bucket, T)
    bucket.put(f"{T}/bucket-index.json.gz", gzip.compress(b'{"blocks": 3}'))
    with pytest.raises(BucketIndexCorruptedError):
        read_bucket_index(bucket, T)
    # A corrupted index is rebuilt from the blocks.
    upload_block(bucket, _id(1), 0, 10)
    assert len(update_bucket_index(bucket, T).blocks) == 1
    delete_bucket_index(bucket, T)
    with pytest.raises(ObjectNotFoundError):
        bucket.get(f"{T}/bucket-index.json.gz")


def test_empty_tenant_gets_an_empty_index(bucket: Bucket) -> None:
    index = update_bucket_index(bucket, "nobody-yet", now=3)
    assert index == BucketIndex(updated_at=3)
    assert read_bucket_index(bucket, "nobody-yet") == index


def test_blocks_within_uses_half_open_block_ranges() -> None:
    idx = BucketIndex(
        blocks=[IndexBlock("B", 100, 200), IndexBlock("A", 0, 100), IndexBlock("C", 200, 300)]
    )
    assert [b.block_id for b in idx.blocks_within(100, 100)] == ["B"]  # A ends before 100
    assert [b.block_id for b in idx.blocks_within(0, 250)] == ["A", "B", "C"]
    assert [b.block_id for b in idx.blocks_within(300, 400)] == []
    assert IndexBlock("A", 0, 100).within(99, 99)
