"""Record header format and the ``ingest_storage`` settings."""

from __future__ import annotations

import pytest

from tidewell.ingest.config import IngestStorageConfig, InvalidIngestStorageConfigError
from tidewell.ingest.record import (
    InvalidVersionHeaderError,
    decode_version_header,
    encode_version_header,
    version_from_headers,
)
from tidewell.util.config_tree import iter_leaves


def test_version_header_is_four_byte_big_endian() -> None:
    assert encode_version_header(1) == b"\x00\x00\x00\x01"
    assert encode_version_header(2) == b"\x00\x00\x00\x02"
    assert decode_version_header(b"\x00\x00\x01\x00") == 256
    with pytest.raises(InvalidVersionHeaderError, match="4 bytes"):
        decode_version_header(b"\x01")


def test_version_from_headers_defaults_to_zero() -> None:
    assert version_from_headers(None) == 0
    assert version_from_headers([]) == 0
    assert version_from_headers([("Other", b"x")]) == 0
    assert version_from_headers([("Other", b"x"), ("Version", b"\x00\x00\x00\x02")]) == 2


def test_defaults_and_flags_match_mimir() -> None:
    leaves = {leaf.flag: leaf for leaf in iter_leaves(IngestStorageConfig, ("ingest_storage",))}
    expect = {
        "ingest-storage.enabled": True,
        "ingest-storage.kafka.address": "",
        "ingest-storage.kafka.topic": "ingest",
        "ingest-storage.kafka.auto-create-topic-enabled": True,
        "ingest-storage.kafka.auto-create-topic-default-partitions": 1000,
        "ingest-storage.kafka.write-timeout": 10.0,
        "ingest-storage.kafka.producer-max-record-size-bytes": 15983616,
        "ingest-storage.kafka.producer-max-buffered-bytes": 1 << 30,
        "ingest-storage.kafka.consumer-group": "",
        "ingest-storage.kafka.consumer-group-offset-commit-interval": 1.0,
        "ingest-storage.kafka.consume-from-position-at-startup": "last-offset",
        "ingest-storage.kafka.max-consumer-lag-at-startup": 15.0,
        "ingest-storage.kafka.target-consumer-lag-at-startup": 2.0,
        "ingest-storage.kafka.wait-strong-read-consistency-timeout": 20.0,
        "ingest-storage.kafka.produce-endpoint": "",
        "ingest-storage.kafka.consume-endpoint": "",
        "ingest-storage.embedded.partitions": 1,
        "ingest-storage.embedded.group-commit-window": 0.002,
    }
    for flag, default in expect.items():
        assert leaves[flag].default == default, flag
    assert leaves["ingest-storage.kafka.sasl-password"].secret
    assert leaves["ingest-storage.kafka.write-timeout"].kind == "duration"


def test_backend_and_endpoints() -> None:
    cfg = IngestStorageConfig()
    assert cfg.backend == "embedded"
    cfg.validate()
    cfg.kafka.address = "kafka:9092"
    assert cfg.backend == "kafka"
    assert cfg.kafka.produce_address() == cfg.kafka.consume_address() == "kafka:9092"
    cfg.kafka.produce_endpoint = "write-proxy:9092"
    assert cfg.kafka.produce_address() == "write-proxy:9092"
    assert cfg.kafka.consume_address() == "kafka:9092"
    cfg.validate()


@pytest.mark.parametrize(
    ("field", "value", "flag"),
    [
        ("kafka.write_timeout", 0.0, "write-timeout"),
        ("kafka.consume_from_position_at_startup", "middle", "consume-from-position-at-startup"),
        ("kafka.consume_from_position_at_startup", "timestamp", "consume-from-timestamp"),
        ("kafka.producer_max_record_size_bytes", 10, "producer-max-record-size-bytes"),
        ("embedded.partitions", 0, "embedded.partitions"),
        ("embedded.segment_size_bytes", 100, "segment-size-bytes"),
    ],
)
def test_validate_names_the_flag(field: str, value: object, flag: str) -> None:
    cfg = IngestStorageConfig()
    section, name = field.split(".")
    setattr(getattr(cfg, section), name, value)
    with pytest.raises(InvalidIngestStorageConfigError, match=flag):
        cfg.validate()
