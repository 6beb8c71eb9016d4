"""``tidewell tool backfill`` in-process against a filesystem bucket."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tidewell.model.labels import Labels
from tidewell.objstore import FilesystemBucket
from tidewell.objstore.bucketindex import read_bucket_index
from tidewell.tool import main as tool_main
from tidewell.tool.backfill import BackfillError, main, validate_block
from tidewell.tool.progress import Progress
from tidewell.tsdb.block import write_block

pytestmark = pytest.mark.timeout(60)

T0 = 1_700_006_400_000
HOUR = 3_600_000


def block(parent: Path, start: int, end: int, n: int = 4) -> Path:
    ts = np.arange(start, end, 15_000, dtype=np.int64)
    series = [
        (Labels.from_dict({"__name__": "up", "i": str(i)}), ts, np.full(ts.shape[0], float(i)))
        for i in range(n)
    ]
    path, _ = write_block(parent, series, min_time=start, max_time=end)
    return path


def run(tmp: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--tenant", "t1", f"-blocks-storage.filesystem.dir={tmp / 'bucket'}",
                 "--no-progress", *args], out=out)
    return code, out.getvalue()


def test_uploads_valid_blocks_meta_last_and_updates_index(tmp_path: Path) -> None:
    a = block(tmp_path / "in", T0, T0 + 2 * HOUR)
    b = block(tmp_path / "in", T0 + 2 * HOUR, T0 + 4 * HOUR)
    code, out = run(tmp_path, str(tmp_path / "in"))  # a directory of blocks
    assert code == 0, out
    lines = [ln for ln in out.splitlines() if ln.startswith("uploaded ")]
    for blk in (a, b):
        mine = [ln.split()[1] for ln in lines if blk.name in ln]
        assert mine[-1] == f"{blk.name}/meta.json"
        assert mine[:-1] == [f"{blk.name}/chunks/000001", f"{blk.name}/index"]
    assert "backfilled 2 block(s)" in out
    bucket = FilesystemBucket(tmp_path / "bucket")
    idx = read_bucket_index(bucket, "t1")
    assert {x.block_id for x in idx.blocks} == {a.name, b.name}
    meta = json.loads(bucket.get(f"t1/{a.name}/meta.json"))
    assert meta["thanos"]["segment_files"] == ["000001"]
    assert {f["rel_path"] for f in meta["thanos"]["files"]} == {"chunks/000001", "index",
                                                                  "meta.json"}
    assert bucket.get(f"t1/{a.name}/index") == (a / "index").read_bytes()

    # Backfilling the same block again is refused: it exists (and overlaps itself).
    code, out = run(tmp_path, str(a))
    assert code == 1
    assert "already exists" in out and "nothing uploaded" in out


def test_refuses_overlapping_blocks(tmp_path: Path) -> None:
    a = block(tmp_path / "in", T0, T0 + 2 * HOUR)
    b = block(tmp_path / "in", T0 + HOUR, T0 + 3 * HOUR)
    code, out = run(tmp_path, str(a), str(b))
    assert code == 1
    assert "overlaps block" in out and "nothing uploaded" in out
    assert not (tmp_path / "bucket" / "t1").exists()

    # Overlap with a block already in the bucket.
    assert run(tmp_path, str(a))[0] == 0
    code, out = run(tmp_path, str(b))
    assert code == 1
    assert f"overlaps block {a.name}" in out and "already in tenant 't1'" in out


def test_refuses_corrupt_blocks(tmp_path: Path) -> None:
    good = block(tmp_path / "in", T0 + 10 * HOUR, T0 + 12 * HOUR)
    bad_chunk = block(tmp_path / "in", T0, T0 + 2 * HOUR)
    seg = bad_chunk / "chunks" / "000001"
    data = bytearray(seg.read_bytes())
    data[40] ^= 0xFF
    seg.write_bytes(bytes(data))
    with pytest.raises(BackfillError, match="CRC32C mismatch"):
        validate_block(bad_chunk)
    bad_index = block(tmp_path / "in", T0 + 4 * HOUR, T0 + 6 * HOUR)
    idx = bad_index / "index"
    idx.write_bytes(idx.read_bytes()[:-7])
    with pytest.raises(BackfillError, match="corrupt block"):
        validate_block(bad_index)
    bad_meta = block(tmp_path / "in", T0 + 6 * HOUR, T0 + 8 * HOUR)
    (bad_meta / "meta.json").write_text("{not json")
    with pytest.raises(BackfillError, match=r"meta\.json"):
        validate_block(bad_meta)
    no_chunks = block(tmp_path / "in", T0 + 8 * HOUR, T0 + 10 * HOUR)
    shutil.rmtree(no_chunks / "chunks")
    with pytest.raises(BackfillError, match="chunks is missing"):
        validate_block(no_chunks)
    # A block whose meta.json claims a narrower range than its samples.
    lying = block(tmp_path / "lying", T0 + 20 * HOUR, T0 + 22 * HOUR)
    meta = json.loads((lying / "meta.json").read_text())
    meta["maxTime"] = T0 + 21 * HOUR
    (lying / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BackfillError, match="outside the block's time range"):
        validate_block(lying)

    code, out = run(tmp_path, str(tmp_path / "in"))
    assert code == 1
    assert out.count("error: ") == 4
    assert str(bad_chunk) in out and str(bad_index) in out
    assert f"block {good} is valid" in out
    assert not (tmp_path / "bucket" / "t1").exists()


def test_arguments(tmp_path: Path) -> None:
    # Our own arguments and storage flags (with separate values) mix in any order.
    a = block(tmp_path / "in", T0, T0 + 2 * HOUR)
    b = block(tmp_path / "in2", T0 + 2 * HOUR, T0 + 4 * HOUR)
    out_io = io.StringIO()
    code = main(["--tenant", "t", "-blocks-storage.backend", "filesystem", str(a),
                 "-blocks-storage.filesystem.dir", str(tmp_path / "mixed"), "-tenant=u",
                 "--no-progress", str(b)], out=out_io)
    assert code == 0, out_io.getvalue()
    idx = read_bucket_index(FilesystemBucket(tmp_path / "mixed"), "u")  # the last -tenant wins
    assert {x.block_id for x in idx.blocks} == {a.name, b.name}
    code, out = run(tmp_path, str(tmp_path / "missing"))
    assert code == 1 and "no such directory" in out
    out_io = io.StringIO()
    assert main(["--tenant", "t", "-blocks-storage.backend=nope", str(tmp_path)], out=out_io) == 2
    assert "blocks-storage.backend" in out_io.getvalue()
    assert tool_main(["nope"]) == 2


def test_progress_bar_on_tty() -> None:
    out = io.StringIO()
    p = Progress(2048, out, tty=True)
    p.advance(1024, "B1/index")
    p.advance(1024, "B1/meta.json")
    p.finish()
    text = out.getvalue()
    assert "\r[###############...............]  50.0%" in text
    assert "100.0% 2.0KiB/2.0KiB" in text and text.endswith("\n")
