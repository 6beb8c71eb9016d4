"""SIGKILL the compactor at random points of its jobs (download, merge, upload, marking),
restart it: no sample lost or doubled, no partial block left after the cleanup delays."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tidewell.compactor.compactor import Compactor
from tidewell.compactor.config import CompactorConfig
from tidewell.objstore import FilesystemBucket, tenant_bucket
from tidewell.objstore.bucketindex import read_bucket_index
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway

from .test_compactor_s3 import T0, H, _expected, _query, _upload_two_zones

pytestmark = [pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[3]


def _run(bucket_dir: Path, work: Path, clock: float, kill_after: float | None) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.compactor.crash_compactor",
         str(bucket_dir), str(work), str(clock)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    if kill_after is None:
        out = proc.stdout.read()
        assert proc.wait(timeout=300) == 0
        return out.strip()
    time.sleep(kill_after)
    proc.kill()  # SIGKILL
    proc.wait(timeout=30)
    return "killed"


def test_sigkill_at_random_points_loses_and_doubles_nothing(tmp_path: Path) -> None:
    bucket_dir = tmp_path / "bucket"
    bucket = FilesystemBucket(bucket_dir)
    tenant = "team-a"
    _upload_two_zones(bucket, tenant, tmp_path / "local")
    clock = time.time() + 3600
    rng = random.Random(16)
    kills = 0
    # Listing and planning take ~0.25 s here and the whole run ~0.6 s: kills in between
    # land while sources download, blocks merge or upload (leaving partial blocks), and
    # between the marks of one job's sources.
    for _ in range(12):
        if _run(bucket_dir, tmp_path / "work", clock, rng.uniform(0.25, 0.55)) == "killed":
            kills += 1
    assert kills == 12
    assert _run(bucket_dir, tmp_path / "work", clock, None) == "done"

    comp = Compactor(bucket, CompactorConfig(), tmp_path / "c", clock=lambda: clock)
    live = comp.live_blocks(tenant)
    assert sorted((b.min_time - T0, b.max_time - T0) for b in live) == [
        (0, 24 * H), (24 * H, 26 * H)]
    gw = StoreGateway(BucketStoreConfig(), bucket, tmp_path / "sync", now=lambda: clock)
    comp.clean()
    assert _query(gw, tenant) == _expected()  # during: sources and successors both served

    # Past the partial-block delay (1d) and the deletion delay (12h): two cleaner runs
    # (partial blocks are marked by the first, deleted by the second).
    clock += 2 * 86400
    comp.clean()
    comp.clean()
    index = read_bucket_index(bucket, tenant)
    assert {b.block_id for b in index.blocks} == {b.block_id for b in live}
    assert index.block_deletion_marks == []
    objects = [o.key for o in tenant_bucket(bucket, tenant).iter_prefix("")]
    assert {k.split("/")[0] for k in objects} == {b.block_id for b in live} | {
        "bucket-index.json.gz"}  # no partial block, no mark left
    gw2 = StoreGateway(BucketStoreConfig(), bucket, tmp_path / "sync2", now=lambda: clock)
    want = _expected()
    assert _query(gw2, tenant) == want
    samples = sum(len(ts) + len(hs) for ts, _, hs in want.values())
    stored = 0
    for b in live:
        meta = tenant_bucket(bucket, tenant).get(f"{b.block_id}/meta.json")
        stored += json.loads(meta)["stats"]["numSamples"]
    assert stored == samples  # one copy of every sample in the bucket
