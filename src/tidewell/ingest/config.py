"""Settings of the ingest log (Mimir's ``ingest_storage`` block).

``kafka`` keeps Mimir's names and defaults (flags ``-ingest-storage.kafka.*``).
``embedded`` is Tidewell's own: the file-backed log used when no Kafka address
is set. Which backend runs is decided by ``IngestStorageConfig.backend``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tidewell.model.errors import TidewellError
from tidewell.util.config_fields import setting

__all__ = [
    "CONSUME_POSITIONS",
    "EmbeddedLogConfig",
    "IngestStorageConfig",
    "InvalidIngestStorageConfigError",
    "KafkaConfig",
]

CONSUME_POSITIONS = ("last-offset", "start", "end", "timestamp")
SASL_MECHANISMS = ("", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class InvalidIngestStorageConfigError(TidewellError, ValueError):
    """An ``ingest_storage`` setting is invalid; the message names the flag."""


@dataclass
class KafkaConfig:
    address: str = field(
        default="",
        metadata=setting(
            "The Kafka backend address (host:port, comma-separated for several). "
            "Empty: use the embedded log."
        ),
    )
    produce_endpoint: str = field(
        default="",
        metadata=setting("Address distributors produce to. Empty: the value of address."),
    )
    consume_endpoint: str = field(
        default="",
        metadata=setting("Address ingesters consume from. Empty: the value of address."),
    )
    topic: str = field(
        default="ingest", metadata=setting("The Kafka topic name.")
    )
    client_id: str = field(
        default="", metadata=setting("The Kafka client ID.")
    )
    sasl_username: str = field(
        default="", metadata=setting("The username used to authenticate to Kafka using SASL.")
    )
    sasl_password: str = field(
        default="",
        metadata=setting("The password used to authenticate to Kafka using SASL.", secret=True),
    )
    sasl_mechanism: str = field(
        default="",
        metadata=setting(
            "SASL mechanism; empty means PLAIN when a username is set.",
            choices=SASL_MECHANISMS,
        ),
    )
    tls_enabled: bool = field(
        default=False, metadata=setting("Connect to Kafka over TLS.")
    )
    tls_ca_path: str = field(
        default="", metadata=setting("Path to the CA certificates used to verify the broker.")
    )
    tls_cert_path: str = field(
        default="", metadata=setting("Path to the client certificate for TLS.")
    )
    tls_key_path: str = field(
        default="", metadata=setting("Path to the client key for TLS.")
    )
    tls_insecure_skip_verify: bool = field(
        default=False, metadata=setting("Skip verifying the broker's certificate.")
    )
    write_timeout: float = field(
        default=10.0,
        metadata=setting(
            "How long a produce may wait for the broker's acknowledgement before it fails.",
            kind="duration",
        ),
    )
    consumer_group: str = field(
        default="",
        metadata=setting(
            "The consumer group used by the consumer to track the last consumed offset. "
            "Empty: the instance ID."
        ),
    )
    consumer_group_offset_commit_interval: float = field(
        default=1.0,
        metadata=setting(
            "How frequently a consumer commits the consumed offset to Kafka.", kind="duration"
        ),
    )
    consume_from_position_at_startup: str = field(
        default="last-offset",
        metadata=setting(
            "From which position to start consuming after a restart.", choices=CONSUME_POSITIONS
        ),
    )
    consume_from_timestamp_at_startup: int = field(
        default=0,
        metadata=setting(
            "Milliseconds timestamp after which the consumption of the partition starts; "
            "only when consume-from-position-at-startup is timestamp."
        ),
    )
    max_consumer_lag_at_startup: float = field(
        default=15.0,
        metadata=setting(
            "The guaranteed maximum lag before a consumer is considered to have caught up "
            "reading from a partition at startup. 0 disables the wait.",
            kind="duration",
        ),
    )
    target_consumer_lag_at_startup: float = field(
        default=2.0,
        metadata=setting(
            "The best-effort maximum lag a consumer tries to achieve at startup.",
            kind="duration",
        ),
    )
    wait_strong_read_consistency_timeout: float = field(
        default=20.0,
        metadata=setting(
            "The maximum allowed read latency to guarantee strong read consistency. "
            "0 disables the timeout.",
            kind="duration",
        ),
    )
    auto_create_topic_enabled: bool = field(
        default=True,
        metadata=setting("Create the topic if it does not exist (through the admin API)."),
    )
    auto_create_topic_default_partitions: int = field(
        default=1000,
        metadata=setting("Number of partitions of the automatically created topic."),
    )
    producer_max_record_size_bytes: int = field(
        default=15983616,
        metadata=setting(
            "Maximum size of a record produced to Kafka; larger write requests are split."
        ),
    )
    producer_max_buffered_bytes: int = field(
        default=1024 * 1024 * 1024,
        metadata=setting(
            "Maximum bytes of records buffered by the producer and not yet acknowledged; "
            "beyond it produce requests fail fast. 0 disables the limit."
        ),
    )

    def produce_address(self) -> str:
        return self.produce_endpoint or self.address

    def consume_address(self) -> str:
        return self.consume_endpoint or self.address


@dataclass
class EmbeddedLogConfig:
    dir: str = field(
        default="",
        metadata=setting("Directory of the embedded log. Empty: <common.storage.path>/log."),
    )
    partitions: int = field(
        default=1,
        metadata=setting(
            "Number of partitions of the embedded log. One in-process ingester reads "
            "partition 0; raise it only when the partition ring has more partitions."
        ),
    )
    group_commit_window: float = field(
        default=0.002,
        metadata=setting(
            "How long the first of concurrent produces waits so that others share its fsync.",
            kind="duration",
        ),
    )
    segment_size_bytes: int = field(
        default=64 * 1024 * 1024,
        metadata=setting("Size at which a partition starts a new segment file."),
    )
    retention_period: float = field(
        default=24 * 3600.0,
        metadata=setting(
            "Delete whole segments whose newest record is older than this. 0 disables.",
            kind="duration",
        ),
    )
    retention_bytes: int = field(
        default=0,
        metadata=setting(
            "Delete the oldest segments while a partition is larger than this. 0 disables."
        ),
    )
    retention_check_interval: float = field(
        default=60.0,
        metadata=setting("How often retention is enforced.", kind="duration"),
    )

    def resolve_dir(self, default_dir: str) -> str:
        return self.dir or os.path.join(default_dir, "log")


@dataclass
class IngestStorageConfig:
    enabled: bool = field(
        default=True,
        metadata=setting(
            "Ingest storage: writes go through the log. Tidewell has no other write path, "
            "so the flag only exists for compatibility with Mimir's configs."
        ),
    )
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    embedded: EmbeddedLogConfig = field(default_factory=EmbeddedLogConfig)

    @property
    def backend(self) -> str:
        """``"kafka"`` when a Kafka address is set, else ``"embedded"``."""
        k = self.kafka
        return "kafka" if (k.address or k.produce_endpoint or k.consume_endpoint) else "embedded"

    def validate(self) -> None:
        k, e = self.kafka, self.embedded
        if self.backend == "kafka":
            if not k.topic:
                raise InvalidIngestStorageConfigError(
                    "-ingest-storage.kafka.topic must not be empty"
                )
            if not k.produce_address() or not k.consume_address():
                raise InvalidIngestStorageConfigError(
                    "-ingest-storage.kafka.address must be set when only one of "
                    "-ingest-storage.kafka.produce-endpoint / consume-endpoint is set"
                )
            if k.auto_create_topic_enabled and k.auto_create_topic_default_partitions < 1:
                raise InvalidIngestStorageConfigError(
                    "-ingest-storage.kafka.auto-create-topic-default-partitions must be >= 1"
                )
        if k.write_timeout <= 0:
            raise InvalidIngestStorageConfigError(
                "-ingest-storage.kafka.write-timeout must be > 0"
            )
        if k.producer_max_record_size_bytes < 1024:
            raise InvalidIngestStorageConfigError(
                "-ingest-storage.kafka.producer-max-record-size-bytes must be >= 1024"
            )
        if k.producer_max_buffered_bytes < 0:
            raise InvalidIngestStorageConfigError(
                "-ingest-storage.kafka.producer-max-buffered-bytes must be >= 0"
            )
        if k.consume_from_position_at_startup not in CONSUME_POSITIONS:
            raise InvalidIngestStorageConfigError(
                "-ingest-storage.kafka.consume-from-position-at-startup must be one of "
                + ", ".join(CONSUME_POSITIONS)
            )
        if (
            k.consume_from_position_at_startup == "timestamp"
            and k.consume_from_timestamp_at_startup <= 0
        ):
            raise InvalidIngestStorageConfigError(
                "-ingest-storage.kafka.consume-from-timestamp-at-startup must be set when "
                "consuming from a timestamp"
            )
        if k.sasl_mechanism not in SASL_MECHANISMS:
            raise InvalidIngestStorageConfigError(
                "-ingest-storage.kafka.sasl-mechanism must be one of PLAIN, SCRAM-SHA-256, "
                "SCRAM-SHA-512"
            )
        if e.partitions < 1:
            raise InvalidIngestStorageConfigError(
                "-ingest-storage.embedded.partitions must be >= 1"
            )
        if e.group_commit_window < 0:
            raise InvalidIngestStorageConfigError(
                "-ingest-storage.embedded.group-commit-window must be >= 0"
            )
        if e.segment_size_bytes < 4096:
            raise InvalidIngestStorageConfigError(
                "-ingest-storage.embedded.segment-size-bytes must be >= 4096"
            )
        if e.retention_period < 0 or e.retention_bytes < 0:
            raise InvalidIngestStorageConfigError(
                "-ingest-storage.embedded.retention-period and retention-bytes must be >= 0"
            )
