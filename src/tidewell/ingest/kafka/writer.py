"""Producing to Kafka through librdkafka, as an asyncio ``LogWriter``.

librdkafka batches (linger 5 ms), retries and keeps per-partition order with
the idempotent producer (acks=all). A background thread serves its delivery
callbacks and hands each result to the event loop with
``call_soon_threadsafe``. Two limits make failures fast and bounded: a produce
fails with ``LogUnavailableError`` after ``write_timeout`` (librdkafka's
``message.timeout.ms`` and our own wait agree), and when the bytes not yet
acknowledged would exceed ``producer_max_buffered_bytes`` it fails at once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from tidewell.ingest.config import KafkaConfig
from tidewell.ingest.kafka.client import client_config, ensure_topic
from tidewell.ingest.log import LogUnavailableError, ProduceRequest
from tidewell.ingest.metrics import (
    BUFFERED_BYTES,
    BUFFERED_BYTES_LIMIT,
    RECORDS_ENQUEUED,
    RECORDS_FAILED,
    WRITER_LATENCY,
    WRITER_SENT_BYTES,
)
from tidewell.ingest.record import (
    VERSION_HEADER,
    RecordTooLargeError,
    encode_version_header,
)
from tidewell.model.errors import TidewellError

__all__ = ["KafkaWriter", "open_kafka_writer"]

log = logging.getLogger("tidewell.ingest.kafka")

_HEADERS = {v: [(VERSION_HEADER, encode_version_header(v))] for v in (0, 1, 2)}


class KafkaWriter:
    """``LogWriter`` over a librdkafka producer (see the module docstring)."""

    def __init__(self, cfg: KafkaConfig, *, linger_ms: float = 5.0) -> None:
        self.cfg = cfg
        timeout_ms = max(1, int(cfg.write_timeout * 1000))
        self._conf = client_config(cfg, cfg.produce_address(), "writer") | {
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": linger_ms,
            "message.timeout.ms": timeout_ms,
            "request.timeout.ms": min(30000, timeout_ms),
            "message.max.bytes": max(1_000_000, cfg.producer_max_record_size_bytes + 65536),
            "queue.buffering.max.messages": 2_000_000,
            "queue.buffering.max.kbytes": min(
                2**31 - 1, max(1024, cfg.producer_max_buffered_bytes // 1024 + 1024)
            ) if cfg.producer_max_buffered_bytes else 2**31 - 1,
        }
        self._client = _Client(self._conf)
        self._buffered = 0
        self._topic_ready = False
        self._closed = False
        BUFFERED_BYTES_LIMIT.set(cfg.producer_max_buffered_bytes)

    def _replace_client(self, reason: str) -> None:
        """Start a fresh producer after a fatal error (e.g. fenced after an epoch bump).

        librdkafka cannot use an idempotent producer again once it hit a fatal
        error; the old one is purged in the background (its pending deliveries
        fail, which their callers already saw as errors or timeouts).
        """
        log.warning("replacing Kafka producer after fatal error",
                    extra={"fields": {"err": reason}})
        old, self._client = self._client, _Client(self._conf)
        threading.Thread(target=old.shutdown, args=(0.5,), daemon=True).start()

    async def ensure_topic(self) -> None:
        if not self._topic_ready:
            await asyncio.to_thread(ensure_topic, self.cfg, self.cfg.write_timeout)
            self._topic_ready = True

    async def produce(self, requests: Sequence[ProduceRequest]) -> list[int]:
        t0 = time.perf_counter()
        n = len(requests)
        if not n:
            return []
        RECORDS_ENQUEUED.inc(n)
        size = sum(len(r.key) + len(r.value) for r in requests)
        limit = self.cfg.producer_max_buffered_bytes
        if self._closed:
            RECORDS_FAILED.labels("other").inc(n)
            raise LogUnavailableError("Kafka writer is closed")
        if limit and self._buffered + size > limit:
            RECORDS_FAILED.labels("buffer-full").inc(n)
            raise LogUnavailableError(
                f"Kafka producer buffer is full ({self._buffered} bytes waiting for "
                f"acknowledgement, -ingest-storage.kafka.producer-max-buffered-bytes={limit})"
            )
        for r in requests:
            if len(r.key) + len(r.value) > self.cfg.producer_max_record_size_bytes:
                RECORDS_FAILED.labels("record-too-large").inc(n)
                raise RecordTooLargeError(
                    f"record of {len(r.key) + len(r.value)} bytes is over the limit of "
                    f"{self.cfg.producer_max_record_size_bytes} bytes "
                    "(-ingest-storage.kafka.producer-max-record-size-bytes)"
                )
        try:
            await asyncio.wait_for(self.ensure_topic(), self.cfg.write_timeout)
        except (LogUnavailableError, TimeoutError) as e:
            RECORDS_FAILED.labels("other").inc(n)
            raise LogUnavailableError(f"Kafka topic not ready: {e}") from e
        loop = asyncio.get_running_loop()
        batch = _Batch(loop.create_future(), n)
        batch.future.add_done_callback(_retrieve)
        if self._client.fatal:
            self._replace_client(self._client.fatal)
        client = self._client
        for i, r in enumerate(requests):
            rsize = len(r.key) + len(r.value)
            try:
                client.producer.produce(
                    self.cfg.topic,
                    value=r.value,
                    key=r.key,
                    partition=r.partition,
                    headers=_HEADERS.get(r.version)
                    or [(VERSION_HEADER, encode_version_header(r.version))],
                    on_delivery=functools.partial(
                        _on_delivery, client, loop, self._resolve, batch, i, rsize
                    ),
                )
            except (BufferError, KafkaException) as e:
                reason = "buffer-full" if isinstance(e, BufferError) else "other"
                if isinstance(e, KafkaException) and _needs_new_producer(e.args[0]):
                    client.fatal = str(e)
                RECORDS_FAILED.labels(reason).inc(n)
                batch.remaining -= n - i  # the enqueued ones may still be delivered
                if batch.remaining == 0:
                    batch.future.cancel()
                raise LogUnavailableError(f"Kafka produce failed: {e}") from e
            self._buffered += rsize
        BUFFERED_BYTES.set(self._buffered)
        try:
            async with asyncio.timeout(self.cfg.write_timeout):
                offsets = await asyncio.shield(batch.future)
        except TimeoutError:
            RECORDS_FAILED.labels("timeout").inc(n)
            raise LogUnavailableError(
                f"Kafka did not acknowledge within {self.cfg.write_timeout}s "
                "(-ingest-storage.kafka.write-timeout)"
            ) from None
        except _DeliveryError as e:
            RECORDS_FAILED.labels(e.reason).inc(n)
            raise LogUnavailableError(f"Kafka produce failed: {e}") from None
        WRITER_LATENCY.observe(time.perf_counter() - t0)
        WRITER_SENT_BYTES.inc(size)
        return offsets

    def _resolve(
        self, batch: _Batch, i: int, err: KafkaError | None, offset: int, size: int
    ) -> None:
        """On the loop: one record's delivery report; completes its batch when last."""
        self._buffered -= size
        batch.offsets[i] = offset
        if err is not None and batch.error is None:
            reason = "timeout" if err.code() == KafkaError._MSG_TIMED_OUT else "other"
            batch.error = _DeliveryError(err.str(), reason)
        batch.remaining -= 1
        if batch.remaining == 0:
            BUFFERED_BYTES.set(self._buffered)
            if batch.future.done():
                return
            if batch.error is None:
                batch.future.set_result(batch.offsets)
            else:
                batch.future.set_exception(batch.error)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._client.shutdown, self.cfg.write_timeout)


class _Client:
    """A librdkafka producer and the thread that serves its delivery callbacks.

    Delivery reports are queued by the callbacks and handed to the event loop
    in one ``call_soon_threadsafe`` per ``poll()``, not one per record: waking
    the loop per record cost more than producing.
    """

    def __init__(self, conf: dict[str, Any]) -> None:
        self.producer = Producer(conf)
        self.fatal = ""  # set (from any thread) once the producer hit a fatal error
        self.deliveries: collections.deque[tuple[Any, ...]] = collections.deque()
        self._stop = threading.Event()
        self._poller = threading.Thread(
            target=self._poll_loop, name="tidewell-kafka-producer", daemon=True
        )
        self._poller.start()

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.05)
            self.hand_over()

    def hand_over(self) -> None:
        """Pass queued delivery reports to their event loops, one wake-up per loop."""
        by_loop: dict[Any, list[tuple[Any, ...]]] = {}
        while True:
            try:
                item = self.deliveries.popleft()
            except IndexError:
                break
            by_loop.setdefault(item[0], []).append(item[1:])
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # loop closed: nobody waits any more
                loop.call_soon_threadsafe(_resolve_all, items)

    def shutdown(self, timeout_s: float) -> None:
        """Blocking: deliver what can be delivered within ``timeout_s``, then stop."""
        if self.fatal:
            self.producer.purge()
        remaining = self.producer.flush(timeout_s)
        if remaining:
            self.producer.purge()
            self.producer.flush(0.5)
        self._stop.set()
        self._poller.join()
        self.hand_over()


class _Batch:
    """The records of one produce call, completed when the last report arrives."""

    __slots__ = ("error", "future", "offsets", "remaining")

    def __init__(self, future: asyncio.Future[list[int]], n: int) -> None:
        self.future = future
        self.offsets = [-1] * n
        self.remaining = n
        self.error: _DeliveryError | None = None


def _on_delivery(
    client: _Client, loop: Any, resolve: Any, batch: _Batch, i: int, size: int,
    err: KafkaError | None, msg: Any,
) -> None:
    """librdkafka's thread: queue the report; the poll thread hands it to the loop."""
    if err is not None and _needs_new_producer(err):
        client.fatal = err.str()
    client.deliveries.append((loop, resolve, batch, i, err, msg.offset(), size))


def _resolve_all(items: list[tuple[Any, ...]]) -> None:
    for resolve, *args in items:
        resolve(*args)


_FENCING_ERRORS = frozenset(
    getattr(KafkaError, name)
    for name in (
        "_FATAL", "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH", "OUT_OF_ORDER_SEQUENCE_NUMBER",
        "UNKNOWN_PRODUCER_ID", "INVALID_PRODUCER_ID_MAPPING",
    )
    if hasattr(KafkaError, name)
)


def _needs_new_producer(err: KafkaError) -> bool:
    """Errors after which an idempotent producer instance stays unusable."""
    return bool(err.fatal()) or err.code() in _FENCING_ERRORS


class _DeliveryError(TidewellError):
    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


async def open_kafka_writer(cfg: KafkaConfig) -> KafkaWriter:
    """A writer for ``cfg``; creates the topic now if it can, else on the first produce."""
    writer = KafkaWriter(cfg)
    try:
        await writer.ensure_topic()
    except LogUnavailableError as e:
        log.warning("Kafka topic not ready yet", extra={"fields": {"err": str(e)}})
    return writer
