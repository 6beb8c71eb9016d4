"""Ingester test helpers: a real embedded log in a temp dir, record builders, an ingester."""

from __future__ import annotations

import numpy as np

from tidewell.ingest.config import IngestStorageConfig
from tidewell.ingest.embedded.log import EmbeddedLog
from tidewell.ingest.log import ProduceRequest
from tidewell.ingester import Ingester, IngesterConfig, IngesterRingConfig, StaticLimits
from tidewell.model import Labels, SampleBatch
from tidewell.protocol.rw1 import encode_write_request
from tidewell.tsdb.config import TSDBConfig


def make_batch(samples: list[tuple[Labels, int, float]]) -> SampleBatch:
    labels: list[Labels] = []
    idx: dict[Labels, int] = {}
    si = []
    for ls, _, _ in samples:
        if ls not in idx:
            idx[ls] = len(labels)
            labels.append(ls)
        si.append(idx[ls])
    return SampleBatch(
        labels,
        np.array(si, dtype=np.int32),
        np.array([s[1] for s in samples], dtype=np.int64),
        np.array([s[2] for s in samples], dtype=np.float64),
    )


def record(partition: int, tenant: str, samples: list[tuple[Labels, int, float]]) -> (
    ProduceRequest
):
    return ProduceRequest(partition, tenant.encode(), encode_write_request(make_batch(samples)), 1)


def new_log(path: str, partitions: int = 4) -> EmbeddedLog:
    return EmbeddedLog(path, partitions, group_commit_window=0.0)


def new_ingester(
    log: EmbeddedLog,
    data_dir: str,
    instance_id: str = "ingester-zone-a-3",
    *,
    limits: StaticLimits | None = None,
    snapshot_on_shutdown: bool = True,
    max_lag: float = 15.0,
    tsdb_settings: dict[str, object] | None = None,
    **kafka: object,
) -> Ingester:
    ingest = IngestStorageConfig()
    ingest.kafka.consumer_group_offset_commit_interval = 0.05
    ingest.kafka.max_consumer_lag_at_startup = max_lag
    for k, v in kafka.items():
        setattr(ingest.kafka, k, v)
    cfg = IngesterConfig(ring=IngesterRingConfig(instance_id=instance_id), fetch_wait=0.05)
    tsdb = TSDBConfig(memory_snapshot_on_shutdown=snapshot_on_shutdown)
    for k, v in (tsdb_settings or {}).items():
        setattr(tsdb, k, v)
    return Ingester(cfg, tsdb, ingest, limits, log, data_dir)
