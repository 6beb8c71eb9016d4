"""The Kafka backend of the ingest log (``ingest_storage.kafka.address`` set)."""

from tidewell.ingest.kafka.client import client_config, ensure_topic
from tidewell.ingest.kafka.reader import KafkaReader
from tidewell.ingest.kafka.writer import KafkaWriter, open_kafka_writer

__all__ = ["KafkaReader", "KafkaWriter", "client_config", "ensure_topic", "open_kafka_writer"]
