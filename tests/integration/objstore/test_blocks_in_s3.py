"""Real Prometheus blocks (written by promtool) through the S3 backend and the bucket
index: upload with meta.json last, index them, read ranges, download, and let
promtool read the downloaded copy."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tidewell.objstore import Bucket, BucketConfig, new_bucket, tenant_bucket
from tidewell.objstore.bucketindex import build_bucket_index, update_bucket_index

pytestmark = pytest.mark.timeout(60)

PROMTOOL = shutil.which("promtool")
TENANT = "team-a"


def _make_blocks(tmp: Path) -> list[Path]:
    if PROMTOOL is None:
        pytest.fail("promtool not found: install the Debian 'prometheus' package")
    lines = ["# TYPE up gauge"]
    for s in range(3):
        lines += [f'up{{job="j{s}"}} {t % 7} {1_700_000_000 + t}' for t in range(0, 10_800, 60)]
    lines.append("# EOF")
    (tmp / "in.om").write_text("\n".join(lines) + "\n")
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(tmp / "in.om"),
         str(tmp / "out")],
        check=True, capture_output=True, timeout=30,
    )
    return sorted(p for p in (tmp / "out").iterdir() if p.is_dir())


def _upload(bucket: Bucket, block: Path, *, with_meta: bool = True) -> None:
    """As the shipper does: everything else first, meta.json last."""
    files = sorted(p for p in block.rglob("*") if p.is_file() and p.name != "meta.json")
    for f in files:
        bucket.upload_file(f"{block.name}/{f.relative_to(block).as_posix()}", f)
    if with_meta:
        bucket.upload_file(f"{block.name}/meta.json", block / "meta.json")


def _promtool(*args: str) -> str:
    out = subprocess.run(
        [PROMTOOL or "promtool", "tsdb", *args], check=True, capture_output=True, text=True,
        timeout=30,
    )
    return out.stdout


def _dump(db_dir: Path) -> str:
    (db_dir / "wal").mkdir(exist_ok=True)  # promtool 2.42 insists on a WAL directory
    return _promtool("dump", str(db_dir))


@pytest.fixture
def s3(moto_s3, s3_bucket_name: str, tmp_path: Path) -> Bucket:
    cfg = BucketConfig(backend="s3")
    cfg.s3.endpoint = moto_s3.endpoint
    cfg.s3.insecure = True
    cfg.s3.bucket_name = s3_bucket_name
    cfg.s3.access_key_id = "k"
    cfg.s3.secret_access_key = "s"
    return new_bucket(cfg, tmp_path, component="blocks-s3-test")


def test_promtool_blocks_through_s3_and_bucket_index(s3: Bucket, tmp_path: Path) -> None:
    blocks = _make_blocks(tmp_path)
    assert len(blocks) == 2
    tb = tenant_bucket(s3, TENANT)
    _upload(tb, blocks[0])
    _upload(tb, blocks[1], with_meta=False)  # upload interrupted before meta.json

    index, partials = build_bucket_index(s3, TENANT)
    assert [b.block_id for b in index.blocks] == [blocks[0].name]
    assert list(partials) == [blocks[1].name]

    _upload(tb, blocks[1])
    index = update_bucket_index(s3, TENANT)
    for entry, block in zip(index.blocks, blocks, strict=True):
        meta = json.loads((block / "meta.json").read_text())
        assert entry.block_id == meta["ulid"] == block.name
        assert (entry.min_time, entry.max_time) == (meta["minTime"], meta["maxTime"])
        assert entry.compaction_level == 1

    # Ranged reads of real block data: the index TOC is its last 52 bytes.
    local_index = (blocks[0] / "index").read_bytes()
    size = tb.attributes(f"{blocks[0].name}/index").size
    assert size == len(local_index)
    assert tb.get_range(f"{blocks[0].name}/index", size - 52, 52) == local_index[-52:]
    assert tb.get_ranges(f"{blocks[0].name}/index", [(0, 5), (size - 4, 100)]) == [
        local_index[:5], local_index[-4:]
    ]

    # Download a block and let promtool read it: same samples as the original.
    copy = tmp_path / "downloaded" / blocks[0].name
    for obj in tb.iter_prefix(blocks[0].name):
        dest = tmp_path / "downloaded" / obj.key
        dest.parent.mkdir(parents=True, exist_ok=True)
        tb.download_file(obj.key, dest)
    original = _dump(blocks[0].parent)
    shutil.copytree(blocks[1], tmp_path / "downloaded" / blocks[1].name)
    assert _dump(copy.parent) == original
    assert original.count("\n") == 3 * 180  # every sample of the input


def test_filesystem_bucket_is_a_directory_promtool_reads(tmp_path: Path) -> None:
    blocks = _make_blocks(tmp_path)
    bucket = new_bucket(BucketConfig(), tmp_path / "bucket")
    tb = tenant_bucket(bucket, TENANT)
    for b in blocks:
        _upload(tb, b)
    update_bucket_index(bucket, TENANT)
    listed = _promtool("list", str(tmp_path / "bucket" / TENANT))
    assert listed == _promtool("list", str(blocks[0].parent))
    assert all(b.name in listed for b in blocks)
