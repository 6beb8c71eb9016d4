"""BlocksStoreQueryable over three real sharded store-gateways served on loopback."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tests.unit.storegateway.sg_helpers import HOUR, T0, make_series, write_and_upload
from tidewell.model import Matcher, SelectHints, SelectLimitError
from tidewell.objstore import FilesystemBucket
from tidewell.querier.blocks import (
    BlocksStoreQueryable,
    BucketIndexBlocksFinder,
    StoreConsistencyCheckError,
)
from tidewell.ring import InstanceDesc, InstanceRing, InstanceRingDesc, InstanceState
from tidewell.ring import StoreGatewayShardingRingConfig as RingConfig
from tidewell.ring.instance_lifecycler import generate_tokens
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway
from tidewell.storegateway.sharding import RingShardingStrategy

from .conftest import free_port, internal_app

pytestmark = pytest.mark.timeout(120)
# Block IDs are random ULIDs: with RF 2 of 3 a gateway owns all N blocks with probability
# (2/3)**N, so 10 blocks failed the 'sharded' check ~5% of runs; 30 make it ~1e-5.
N_BLOCKS = 30
SPAN = (T0, T0 + N_BLOCKS * HOUR)
SEL = [Matcher.equal("__name__", "m")]


def refetches() -> float:
    return REGISTRY.get_sample_value("cortex_querier_storegateway_refetches_per_query_sum") or 0


def ring_for(ports: list[int]) -> InstanceRing:
    rng, desc, taken = random.Random(3), InstanceRingDesc(), set[int]()
    now = time.time()
    for i, port in enumerate(ports):
        tokens = generate_tokens(64, taken, rng)
        taken |= set(tokens)
        desc.instances[f"sg-{i}"] = InstanceDesc(f"sg-{i}", f"127.0.0.1:{port}", "",
                                                 InstanceState.ACTIVE, tokens, now, now)
    return InstanceRing(desc, RingConfig(replication_factor=2, heartbeat_timeout=0))


@pytest.fixture
def cluster(tmp_path: Path, serve):  # type: ignore[no-untyped-def]
    bucket = FilesystemBucket(tmp_path / "bucket", fsync=False)
    blocks = [write_and_upload(bucket, "t1", tmp_path / "local",
                               make_series(5, T0 + k * HOUR, T0 + (k + 1) * HOUR, seed=k))
              for k in range(N_BLOCKS)]
    ports = [free_port() for _ in range(3)]
    ring = ring_for(ports)
    gateways, servers = [], []
    for i, port in enumerate(ports):
        gw = StoreGateway(BucketStoreConfig(), bucket, tmp_path / f"sync-{i}",
                          sharding=RingShardingStrategy(ring, f"sg-{i}"))
        gw.sync()
        gateways.append(gw)
        servers.append(serve(internal_app(gw), port))
    whole = StoreGateway(BucketStoreConfig(), bucket, tmp_path / "sync-all")
    whole.sync()
    return bucket, blocks, ring, gateways, servers, whole


def queryable(bucket: FilesystemBucket, ring: InstanceRing, grace_s: float = 0.0
              ) -> BlocksStoreQueryable:
    return BlocksStoreQueryable(BucketIndexBlocksFinder(bucket), ring, upload_grace_s=grace_s,
                                timeout_s=10)


def as_dict(series):  # type: ignore[no-untyped-def]
    return {s.labels: (s.timestamps.tolist(), s.values.tolist()) for s in series}


def test_each_block_asked_of_one_owner_and_failed_owners_retried(cluster) -> None:  # type: ignore[no-untyped-def]
    bucket, blocks, ring, gateways, servers, whole = cluster
    loaded = [{b.id for b in gw.blocks("t1")} for gw in gateways]
    assert all(0 < len(ids) < N_BLOCKS for ids in loaded)  # sharded
    assert set().union(*loaded) == set(blocks)
    want = as_dict(whole.querier("t1", *SPAN).select(SEL))
    assert sum(len(ts) for ts, _ in want.values()) == 5 * 240 * N_BLOCKS

    qa = queryable(bucket, ring)
    try:
        assert as_dict(qa.querier("t1", *SPAN).select(SEL)) == want
        assert qa.querier("t1", *SPAN).label_values("i") == [f"{i:04d}" for i in range(5)]
        # A partial range asks only the blocks it overlaps.
        part = qa.querier("t1", T0 + 2 * HOUR, T0 + 3 * HOUR - 1).select(SEL)
        assert as_dict(part) == as_dict(whole.querier("t1", T0 + 2 * HOUR,
                                                      T0 + 3 * HOUR - 1).select(SEL))

        servers[0].stop()  # sg-0 down: its blocks come from their other owner
        before = refetches()
        for _ in range(4):  # owners are picked at random: sg-0 gets picked, then retried
            assert as_dict(qa.querier("t1", *SPAN).select(SEL)) == want
        assert refetches() > before

        servers[1].stop()  # blocks owned by sg-0 and sg-1 only have no owner left
        lost = sorted(b for b in blocks if {o.id for o in ring.block_owners(b)} == {"sg-0",
                                                                                   "sg-1"})
        assert lost
        with pytest.raises(StoreConsistencyCheckError) as err:
            qa.querier("t1", *SPAN).select(SEL)
        assert err.value.block_ids == lost
        assert "failed to fetch some blocks" in str(err.value) and lost[0] in str(err.value)
    finally:
        qa.close()
    # Blocks uploaded within the grace period are tried but not required.
    recent = queryable(bucket, ring, grace_s=3600)
    try:
        got = as_dict(recent.querier("t1", *SPAN).select(SEL))
        assert len(got) > 0 and sum(len(ts) for ts, _ in got.values()) < 5 * 240 * N_BLOCKS
    finally:
        recent.close()


def test_an_owner_without_the_block_yet_is_retried_on_the_other(cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bucket, _, ring, gateways, _, whole = cluster
    new = write_and_upload(bucket, "t1", tmp_path / "local",
                           make_series(5, SPAN[1], SPAN[1] + HOUR, seed=99))
    owners = [int(o.id.split("-")[1]) for o in ring.block_owners(new)]
    gateways[owners[0]].sync()  # the other owner has not synced since the upload
    whole.sync()
    want = as_dict(whole.querier("t1", SPAN[0], SPAN[1] + HOUR).select(SEL))
    qa = queryable(bucket, ring)
    before = refetches()
    try:
        for _ in range(15):  # the owner is picked at random: 2^-15 to never pick it
            got = qa.querier("t1", SPAN[0], SPAN[1] + HOUR).select(SEL)
            assert as_dict(got) == want
    finally:
        qa.close()
    assert refetches() > before
    assert new not in {b.id for b in gateways[owners[1]].blocks("t1")}


def test_gateways_asked_in_parallel_share_a_samples_hint(cluster) -> None:  # type: ignore[no-untyped-def]
    """Each gateway is asked for its blocks' share of the room (by the time they cover):
    together they fit the hint, and one whose blocks hold more than its share refuses
    before decoding (the error counts that gateway's samples, not the merged answer's)."""
    bucket, _, ring, _, _, _ = cluster
    q = queryable(bucket, ring).querier("t1", *SPAN)
    total = sum(len(s) for s in q.select(SEL))
    got = q.select(SEL, SelectHints(max_samples=total))
    assert sum(len(s) for s in got) == total and len(got) == 5
    with pytest.raises(SelectLimitError) as err:
        q.select(SEL, SelectHints(max_samples=total // 2))
    assert err.value.what == "samples" and err.value.limit == total // 2
    assert err.value.series == 5 and 0 < err.value.samples < total
    from tidewell.promql.context import EngineOptions
    from tidewell.promql.engine import Engine

    query, at = "count_over_time(m[30h])", SPAN[1] - 1
    qa = queryable(bucket, ring)
    whole = Engine(EngineOptions()).instant_query(qa, "t1", query, at)
    sharded = Engine(EngineOptions(max_samples=total // 2)).instant_query(qa, "t1", query, at)
    assert [(s.labels, s.vals.tolist()) for s in sharded.series] == \
        [(s.labels, s.vals.tolist()) for s in whole.series] and len(whole.series) == 5
