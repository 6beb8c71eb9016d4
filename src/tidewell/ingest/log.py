"""The ingest log seam: what the distributor produces to and ingesters consume from.

Two backends implement it: ``embedded`` (file-backed, the default) and ``kafka``.
Everything above this module behaves the same on both. Offsets follow Kafka's
semantics: the first record of a partition has offset 0, the *end offset*
(high watermark) is the offset the next produced record will get, and a
committed offset is the offset of the next record to consume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tidewell.model.errors import TidewellError


class LogError(TidewellError):
    """Base error of the log; subclasses say whether a retry may help."""


class LogUnavailableError(LogError):
    """The log could not acknowledge in time (broker down, disk full): retry later."""


@dataclass(frozen=True, slots=True)
class ProduceRequest:
    """One record to append: key = tenant ID, value = a serialized write request."""

    partition: int
    key: bytes
    value: bytes
    version: int = 1


@dataclass(frozen=True, slots=True)
class Record:
    """One record read back from a partition."""

    partition: int
    offset: int
    key: bytes
    value: bytes
    version: int
    timestamp_ms: int


class LogWriter(Protocol):
    async def produce(self, requests: Sequence[ProduceRequest]) -> list[int]:
        """Append records durably; return their offsets once *all* are acknowledged.

        Raises ``LogUnavailableError`` when they cannot be acknowledged in time.
        """
        ...

    async def close(self) -> None: ...


class PartitionReader(Protocol):
    async def fetch(
        self, partition: int, offset: int, max_records: int, timeout_s: float
    ) -> list[Record]:
        """Records at or after ``offset``; waits up to ``timeout_s`` for new ones."""
        ...

    async def end_offset(self, partition: int) -> int:
        """Offset the next produced record will get (Kafka's high watermark)."""
        ...

    async def start_offset(self, partition: int) -> int:
        """Oldest offset still retained."""
        ...

    async def offset_for_timestamp(self, partition: int, timestamp_ms: int) -> int:
        """First offset whose record timestamp is >= ``timestamp_ms`` (end offset if none)."""
        ...

    async def commit(self, group: str, partition: int, offset: int) -> None:
        """Durably store ``offset`` (next to consume) for the consumer group."""
        ...

    async def committed(self, group: str, partition: int) -> int | None:
        """The group's committed offset, or None if it never committed."""
        ...

    async def close(self) -> None: ...
