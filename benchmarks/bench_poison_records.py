"""What a corrupt record costs the partition consumer, and whether a restart pays again.

Run: ``python benchmarks/bench_poison_records.py [--bad 5] [--good 200]``.
An embedded log holds ``good`` valid records with ``bad`` undecodable ones
spread among them (the last record is bad); an ingester consumes it all, then
restarts from its local state. Reports the time to consume everything and the
records skipped in each run (a restart that fetches a skipped record again
skips it again).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

import numpy as np
from prometheus_client import REGISTRY

from tidewell.ingest.config import IngestStorageConfig
from tidewell.ingest.embedded.log import EmbeddedLog
from tidewell.ingest.log import ProduceRequest
from tidewell.ingester import Ingester, IngesterConfig, IngesterRingConfig
from tidewell.model import Labels, SampleBatch
from tidewell.protocol.rw1 import encode_write_request
from tidewell.tsdb.config import TSDBConfig

CORRUPT = b"\x0a\xff\xff\xff\x0fjunk"


def good_record(i: int) -> ProduceRequest:
    batch = SampleBatch([Labels.from_dict({"__name__": "m"})], np.zeros(1, dtype=np.int32),
                        np.array([1000 * (i + 1)], dtype=np.int64), np.ones(1))
    return ProduceRequest(0, b"t1", encode_write_request(batch), 1)


def skipped() -> float:
    return REGISTRY.get_sample_value("tidewell_ingest_storage_reader_records_skipped_total",
                                     {"partition": "0", "cause": "decode"}) or 0.0


async def consume(log: EmbeddedLog, data: str, last: int) -> tuple[float, float]:
    ingest = IngestStorageConfig()
    ingest.kafka.max_consumer_lag_at_startup = 0
    cfg = IngesterConfig(ring=IngesterRingConfig(instance_id="ingester-zone-a-0"),
                         fetch_wait=0.05)
    ing = Ingester(cfg, TSDBConfig(), ingest, None, log, data)
    before = skipped()
    t0 = time.perf_counter()
    await ing.start()
    await ing.wait_for_offset(last, 120)
    took = time.perf_counter() - t0
    await ing.stop()
    return took, skipped() - before


async def main(bad: int, good: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = EmbeddedLog(f"{tmp}/log", 1, group_commit_window=0.0)
        every = max(1, good // bad)
        last = -1
        for i in range(good):
            (last,) = await log.produce([good_record(i)])
            if (i + 1) % every == 0 and i + 1 < good:
                (last,) = await log.produce([ProduceRequest(0, b"t1", CORRUPT, 1)])
        (last,) = await log.produce([ProduceRequest(0, b"t1", CORRUPT, 1)])
        for run in ("first start", "restart"):
            took, n = await consume(log, f"{tmp}/ing", last)
            print(f"{run}: {last + 1} records ({bad} corrupt) consumed in {took:.2f} s, "
                  f"{n:.0f} skipped")
        await log.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bad", type=int, default=5)
    ap.add_argument("--good", type=int, default=200)
    args = ap.parse_args()
    asyncio.run(main(args.bad, args.good))
