"""Local layout: tenants under tenants/, out of reach of wal/ and snapshots/; old layout moved."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ulid import ULID

from tidewell.ingester.head_cutting import local_blocks
from tidewell.ingester.layout import IngesterLayout
from tidewell.ingester.shipper import SHIPPER_FILENAME
from tidewell.ingester.snapshots import head_file_name, load_snapshot, write_snapshot
from tidewell.model.tenant import MAX_TENANT_ID_LENGTH
from tidewell.objstore import FilesystemBucket
from tidewell.objstore.bucketindex import build_bucket_index
from tidewell.tsdb.head import Head

from .conftest import new_log
from .test_compaction import SERIES, dump, make, push

LONG = ("a" * 40 + "!-_.*'()") * 3 + "z" * (MAX_TENANT_ID_LENGTH - 3 * 48)


def block(tenant_dir: Path) -> str:
    ulid = str(ULID())
    (tenant_dir / ulid).mkdir(parents=True)
    (tenant_dir / ulid / "meta.json").write_text(json.dumps({"ulid": ulid}))
    return ulid


def test_long_tenant_is_a_valid_file_name() -> None:
    assert len(LONG) == MAX_TENANT_ID_LENGTH
    assert len(head_file_name(LONG)) < 255
    assert len(LONG.encode().hex()) > 255  # the old snapshot naming could not hold it


def test_old_layout_is_moved_under_tenants(tmp_path: Path) -> None:
    root = tmp_path / "tsdb"
    a = block(root / "team-a")
    (root / "team-a" / SHIPPER_FILENAME).write_text("{}")
    wal_block = block(root / "wal")  # an old tenant "wal" mixed its blocks into the WAL dir
    (root / "wal" / SHIPPER_FILENAME).write_text("{}")
    (root / "wal" / "00000001").write_bytes(b"segment")
    snap = root / "snapshots" / "snapshot-00000000000000000005"
    snap.mkdir(parents=True)
    (snap / "7465616d2d61.npz").write_bytes(b"head")
    old_tenants_block = block(root / "tenants")  # and an old tenant named "tenants"

    layout = IngesterLayout(root)
    assert sorted(layout.migrate()) == ["team-a", "tenants", "wal"]
    assert sorted(p.name for p in root.iterdir()) == ["snapshots", "tenants", "wal"]
    assert sorted(os.listdir(root / "wal")) == ["00000001"]
    assert (snap / "7465616d2d61.npz").read_bytes() == b"head"
    assert layout.tenants() == ["team-a", "tenants", "wal"]
    assert [b.name for b in local_blocks(layout.tenant_dir("team-a"))] == [a]
    assert (Path(layout.tenant_dir("team-a")) / SHIPPER_FILENAME).is_file()
    assert [b.name for b in local_blocks(layout.tenant_dir("wal"))] == [wal_block]
    assert (Path(layout.tenant_dir("wal")) / SHIPPER_FILENAME).is_file()
    assert [b.name for b in local_blocks(layout.tenant_dir("tenants"))] == [old_tenants_block]
    assert layout.migrate() == []  # nothing left to move


def test_interrupted_merge_is_finished(tmp_path: Path) -> None:
    root = tmp_path / "tsdb"
    first, second = block(root / "team-a"), block(root / "team-a")
    layout = IngesterLayout(root)
    (layout.tenants_dir / "team-a").mkdir(parents=True)
    os.rename(root / "team-a" / first, layout.tenants_dir / "team-a" / first)
    assert layout.migrate() == ["team-a"]
    assert sorted(b.name for b in local_blocks(layout.tenant_dir("team-a"))) == sorted(
        [first, second])
    assert not (root / "team-a").exists()


def test_snapshots_written_with_hex_names_are_still_read(tmp_path: Path) -> None:
    head = Head()
    path = write_snapshot(str(tmp_path), 7, [("team-a", head), (LONG, head)])
    assert sorted(os.listdir(path)) == sorted([head_file_name("team-a"), head_file_name(LONG)])
    os.rename(os.path.join(path, head_file_name("team-a")),
              os.path.join(path, b"team-a".hex() + ".npz"))
    assert sorted(load_snapshot(path)) == sorted(["team-a", LONG])


@pytest.mark.anyio
async def test_150_char_tenant_survives_snapshot_restart_and_shipping(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    bucket = FilesystemBucket(tmp_path / "bucket")
    last = await push(log, range(0, 40_000, 1000), tenant=LONG)
    ing = make(log, tmp_path / "ing", bucket=bucket)
    await ing.start()
    await ing.wait_for_offset(last, 10)
    await ing.snapshot_now()
    snaps = tmp_path / "ing" / "tsdb" / "snapshots"
    (snap,) = snaps.iterdir()
    assert os.listdir(snap) == [head_file_name(LONG)]
    assert await ing.compact() == 3
    assert await ing.ship() == 3
    assert len(build_bucket_index(bucket, LONG)[0].blocks) == 3
    await ing.stop()
    ing2 = make(log, tmp_path / "ing", bucket=bucket)
    await ing2.start()
    assert len(dump(ing2, LONG)[SERIES[0]]) == 40
    assert ing2.shipper is not None and len(ing2.shipper.shipped(LONG)) == 3
    await ing2.stop()
