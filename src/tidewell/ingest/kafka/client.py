"""librdkafka settings shared by our producer, consumers and admin client, and topic setup."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from tidewell.ingest.config import KafkaConfig
from tidewell.ingest.log import LogUnavailableError

__all__ = ["client_config", "ensure_topic"]

log = logging.getLogger("tidewell.ingest.kafka")


def client_config(cfg: KafkaConfig, address: str, role: str) -> dict[str, Any]:
    """Connection settings: bootstrap address, client ID, SASL and TLS passthrough."""
    conf: dict[str, Any] = {
        "bootstrap.servers": address,
        "client.id": cfg.client_id or f"tidewell-{role}",
        "socket.keepalive.enable": True,
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": 1000,
        "log_level": 3,  # librdkafka logs errors; connection churn is in our metrics
    }
    if cfg.sasl_username:
        conf["security.protocol"] = "SASL_SSL" if cfg.tls_enabled else "SASL_PLAINTEXT"
        conf["sasl.mechanism"] = cfg.sasl_mechanism or "PLAIN"
        conf["sasl.username"] = cfg.sasl_username
        conf["sasl.password"] = cfg.sasl_password
    elif cfg.tls_enabled:
        conf["security.protocol"] = "SSL"
    if cfg.tls_enabled:
        if cfg.tls_ca_path:
            conf["ssl.ca.location"] = cfg.tls_ca_path
        if cfg.tls_cert_path:
            conf["ssl.certificate.location"] = cfg.tls_cert_path
        if cfg.tls_key_path:
            conf["ssl.key.location"] = cfg.tls_key_path
        if cfg.tls_insecure_skip_verify:
            conf["enable.ssl.certificate.verification"] = False
    return conf


def ensure_topic(cfg: KafkaConfig, timeout_s: float) -> int:
    """Blocking: make sure the topic exists (creating it when enabled); return its partitions.

    Raises ``LogUnavailableError`` if the broker cannot be reached in time or the
    topic is missing and auto-creation is disabled.
    """
    admin = AdminClient(client_config(cfg, cfg.produce_address(), "admin"))
    try:
        # All topics: asking for one by name lets some brokers auto-create it with
        # their default partition count (tansu does).
        md = admin.list_topics(timeout=timeout_s)
    except KafkaException as e:
        raise LogUnavailableError(f"cannot reach Kafka at {cfg.produce_address()}: {e}") from e
    meta = md.topics.get(cfg.topic)
    if meta is not None and meta.error is None and meta.partitions:
        return len(meta.partitions)
    if not cfg.auto_create_topic_enabled:
        raise LogUnavailableError(
            f"Kafka topic {cfg.topic!r} does not exist and "
            "-ingest-storage.kafka.auto-create-topic-enabled is false"
        )
    n = cfg.auto_create_topic_default_partitions
    fut = admin.create_topics(
        [NewTopic(cfg.topic, num_partitions=n, replication_factor=-1)],
        operation_timeout=timeout_s, request_timeout=timeout_s,
    )[cfg.topic]
    try:
        fut.result(timeout_s)
        log.info("created Kafka topic", extra={"fields": {"topic": cfg.topic, "partitions": n}})
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise LogUnavailableError(f"cannot create Kafka topic {cfg.topic!r}: {e}") from e
    return n
