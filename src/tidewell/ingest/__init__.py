"""The ingest log: record format, writer, partition reader, embedded and Kafka backends.

``log.py`` is the seam (``LogWriter``, ``PartitionReader``); ``open_ingest_log``
picks the backend from ``IngestStorageConfig``. See ``DESIGN.md`` beside this file.
"""

from tidewell.ingest.backend import close_ingest_log, open_ingest_log
from tidewell.ingest.config import EmbeddedLogConfig, IngestStorageConfig, KafkaConfig

__all__ = [
    "EmbeddedLogConfig",
    "IngestStorageConfig",
    "KafkaConfig",
    "close_ingest_log",
    "open_ingest_log",
]
