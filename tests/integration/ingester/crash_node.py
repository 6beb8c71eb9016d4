"""A process hosting the embedded log and one ingester, driven over TCP by the crash test.

Run: ``python crash_node.py <data dir> [<kafka address> <topic>]`` (with a Kafka
address the log is that broker, which outlives the node). Prints one JSON line when ready:
``{"port": N, "duplicates": D}``. Requests are JSON lines:
``{"op": "push", "conn": c, "seq": k}`` → produces one record (20 series of
connection c at timestamp k*1000, value k) and answers ``{"offset": o}`` once
the log acknowledged it; ``{"op": "dump", "until": o}`` → waits until offset o is consumed and
answers every series' timestamps and values, plus the samples held by the head and the
local blocks counted separately (``raw_samples``: equal to the merged count unless a
sample is held twice) and the number of local blocks.

The ingester cuts blocks of ``TIDEWELL_CRASH_BLOCK_RANGE`` seconds (default 20, i.e.
20 records of a connection) every 0.3s, with an out-of-order window large enough for
connections that fall behind the others, so kills land before, during and after cuts.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import numpy as np
from prometheus_client import REGISTRY

from tidewell.ingest.config import IngestStorageConfig
from tidewell.ingest.embedded.log import EmbeddedLog
from tidewell.ingest.log import ProduceRequest
from tidewell.ingester import Ingester, IngesterConfig, IngesterRingConfig, StaticLimits
from tidewell.model import Labels, SampleBatch
from tidewell.protocol.rw1 import encode_write_request
from tidewell.tsdb.config import TSDBConfig

SERIES_PER_RECORD = 20


def record(conn: int, seq: int) -> ProduceRequest:
    labels = [
        Labels.from_dict({"__name__": "crash", "conn": str(conn), "j": str(j)})
        for j in range(SERIES_PER_RECORD)
    ]
    batch = SampleBatch(
        labels,
        np.arange(SERIES_PER_RECORD, dtype=np.int32),
        np.full(SERIES_PER_RECORD, seq * 1000, dtype=np.int64),
        np.full(SERIES_PER_RECORD, float(seq)),
    )
    return ProduceRequest(0, b"crash", encode_write_request(batch), 1)


async def main(data_dir: str, kafka: list[str]) -> None:
    ingest = IngestStorageConfig()
    if kafka:
        from tidewell.ingest.kafka import KafkaReader, open_kafka_writer

        ingest.kafka.address, ingest.kafka.topic = kafka
        ingest.kafka.auto_create_topic_default_partitions = 1
        ingest.kafka.write_timeout = 5.0
        producer = await open_kafka_writer(ingest.kafka)
        log = KafkaReader(ingest.kafka)
    else:
        log = producer = EmbeddedLog(f"{data_dir}/log", 1, group_commit_window=0.001)
    ingest.kafka.consumer_group_offset_commit_interval = 0.05
    block_range = float(os.environ.get("TIDEWELL_CRASH_BLOCK_RANGE", "20"))
    tsdb = TSDBConfig(memory_snapshot_interval=0.3, wal_segment_size_bytes=64 * 1024,
                      block_ranges_period=block_range, head_compaction_interval=0.3)
    cfg = IngesterConfig(ring=IngesterRingConfig(instance_id="ingester-zone-a-0"),
                         fetch_max_records=50, fetch_wait=0.05)
    limits = StaticLimits(ooo_window_s=10**6)
    ing = Ingester(cfg, tsdb, ingest, limits, log, f"{data_dir}/ingester")
    await ing.start()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            req = json.loads(line)
            if req["op"] == "push":
                (offset,) = await producer.produce([record(req["conn"], req["seq"])])
                out = {"offset": offset}
            else:
                await ing.wait_for_offset(req["until"], 20)
                series = ing.querier("crash", 0, 2**62).select([])
                raw, blocks = await ing.stored_samples("crash")
                out = {
                    "raw_samples": raw,
                    "blocks": blocks,
                    "duplicates": REGISTRY.get_sample_value(
                        "tidewell_ingester_duplicate_samples_total", {"user": "crash"}
                    ) or 0.0,
                    "series": [
                        [s.labels.get("conn"), s.labels.get("j"), s.timestamps.tolist(),
                         s.values.tolist()]
                        for s in series
                    ]
                }
            writer.write(json.dumps(out).encode() + b"\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    dups = REGISTRY.get_sample_value(
        "tidewell_ingester_duplicate_samples_total", {"user": "crash"}
    ) or 0.0
    print(json.dumps({"port": port, "duplicates": dups}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
