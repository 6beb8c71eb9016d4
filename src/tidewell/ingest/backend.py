"""Pick and open the ingest log backend that ``ingest_storage`` describes."""

from __future__ import annotations

import asyncio

from tidewell.ingest.config import IngestStorageConfig
from tidewell.ingest.log import LogWriter, PartitionReader

__all__ = ["close_ingest_log", "open_ingest_log"]


async def open_ingest_log(
    config: IngestStorageConfig, default_dir: str
) -> tuple[LogWriter, PartitionReader]:
    """Open the configured log as ``(writer, reader)``.

    Embedded (no Kafka address): one object plays both roles and owns the
    directory ``<default_dir>/log`` (or ``ingest_storage.embedded.dir``); open it
    once per process and share it between distributor and ingester. Kafka: an
    independent producer and reader, so a process may use only one of them.
    Close with ``close_ingest_log``.
    """
    config.validate()
    if config.backend == "kafka":
        from tidewell.ingest.kafka import KafkaReader, open_kafka_writer

        return await open_kafka_writer(config.kafka), KafkaReader(config.kafka)
    from tidewell.ingest.embedded import open_embedded_log

    log = await asyncio.to_thread(open_embedded_log, config, default_dir)
    return log, log


async def close_ingest_log(writer: LogWriter, reader: PartitionReader) -> None:
    await writer.close()
    if reader is not writer:
        await reader.close()
