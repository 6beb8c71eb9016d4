"""The local cluster's compactor (`-target=compactor`, its own process) merges the two
zones' copies of uploaded blocks into one, writes the bucket index, and queries through
the querier and store-gateway processes count every sample once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.ingester.test_shipper import s3_config
from tidewell.compactor.job import upload_block
from tidewell.model import Labels
from tidewell.objstore import new_bucket, tenant_bucket
from tidewell.tool.localcluster.supervisor import BUCKET, LocalCluster
from tidewell.tsdb.block import write_block

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

BLOCK_MS = 2 * 3_600_000
SERIES = 8
WINDOWS = 2
TENANT = "compactor"  # the shared cluster's other users have their own


@pytest.fixture
def cluster(shared_cluster: LocalCluster) -> LocalCluster:
    """tests/e2e/cluster/conftest.py: block sync and compaction every 2 s."""
    return shared_cluster


def _zone_blocks(root: Path, end: int) -> int:
    """Both zones' copies (different ULIDs, same samples) of ``WINDOWS`` 2h blocks."""
    labels = sorted(Labels({"__name__": "compacted", "s": str(i)}.items()) for i in range(SERIES))
    samples = 0
    for k in range(WINDOWS):
        lo = end - (WINDOWS - k) * BLOCK_MS
        ts = np.arange(lo, lo + BLOCK_MS, 60_000, dtype=np.int64)
        for zone in ("a", "b"):
            write_block(root / zone, [(lb, ts, ts.astype(np.float64)) for lb in labels],
                        min_time=lo, max_time=lo + BLOCK_MS)
        samples += SERIES * len(ts)
    return samples


def _metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name)


def test_compactor_process_merges_zone_copies(cluster: LocalCluster, tmp_path: Path) -> None:
    compactor = cluster.process("compactor-0").url
    gateway = cluster.process("store-gateway-0").url
    querier = cluster.process("querier-0").url
    assert httpx.get(f"{compactor}/compactor/ring", timeout=10).status_code == 200
    # A day ago: older than -querier.query-ingesters-within, so only blocks answer.
    end = (int(time.time() * 1000) - 24 * 3_600_000) // BLOCK_MS * BLOCK_MS
    samples = _zone_blocks(tmp_path / "blocks", end)
    # Uploaded as two zones' ingesters do: blocks only, no bucket index (the compactor's).
    bucket = new_bucket(s3_config(cluster.deps["s3"].address, BUCKET), tmp_path / "unused")
    tb = tenant_bucket(bucket, TENANT)
    blocks = [p for z in ("a", "b") for p in sorted((tmp_path / "blocks" / z).iterdir())]
    for p in blocks:
        upload_block(tb, p)
    uploaded = {p.name for p in blocks}
    assert len(uploaded) == 2 * WINDOWS

    deadline = time.monotonic() + 90
    loaded: set[str] = set()
    while time.monotonic() < deadline:
        r = httpx.get(f"{gateway}/store-gateway/tenant/{TENANT}/blocks", timeout=10)
        loaded = {b["block_id"] for b in r.json()["blocks"]} if r.status_code == 200 else set()
        # The successors alone: the zone copies were replaced (and marked for deletion).
        if len(loaded) == WINDOWS and not loaded & uploaded:
            break
        time.sleep(0.5)
    assert len(loaded) == WINDOWS and not loaded & uploaded, loaded
    assert _metric(compactor, "cortex_compactor_blocks_marked_for_deletion_total") >= 2 * WINDOWS
    assert _metric(compactor, "cortex_compactor_runs_completed_total") >= 1

    before = _metric(querier, "cortex_querier_blocks_queried_total")
    deadline = time.monotonic() + 30  # queriers re-read the bucket index every 10s
    while True:
        r = httpx.get(f"{querier}/prometheus/api/v1/query", timeout=30,
                      headers={"X-Scope-OrgID": TENANT}, params={
            "query": f"sum(count_over_time(compacted[{2 * WINDOWS + 1}h]))",
            "time": end / 1000})
        assert r.status_code == 200, r.text
        result = r.json()["data"]["result"]
        got = int(float(result[0]["value"][1])) if result else 0
        queried = _metric(querier, "cortex_querier_blocks_queried_total") - before
        if (got, queried) == (samples, WINDOWS) or time.monotonic() > deadline:
            break
        before = _metric(querier, "cortex_querier_blocks_queried_total")
        time.sleep(0.5)
    assert (got, queried) == (samples, WINDOWS)
