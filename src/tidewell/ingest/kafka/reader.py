"""Reading partitions from Kafka through librdkafka, as an asyncio ``PartitionReader``.

As in Mimir, partitions are *assigned*, never subscribed: there is no group
rebalancing, and a consumer group only stores committed offsets. Each
partition gets its own consumer (an ingester reads one partition), kept
positioned where the last fetch ended so consecutive fetches stream. librdkafka
calls block, so they run in a small thread pool; a per-consumer thread lock
keeps a cancelled fetch that is still polling from overlapping the next one.

End offsets do not trust ListOffsets alone: some Kafka-compatible brokers
(tansu 0.6 among them) report a high watermark below the true end after batched
produces. ``end_offset`` therefore asks for the watermark, then reads forward
from it until librdkafka reports the partition end (PARTITION_EOF), which on a
correct broker is a single empty fetch. ``offset_for_timestamp`` likewise checks
the broker's answer by reading forward to the first record at or after the
timestamp (a broker without timestamp lookup answers 0, and the scan fixes it).
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from tidewell.ingest import metrics as m
from tidewell.ingest.config import KafkaConfig
from tidewell.ingest.kafka.client import client_config
from tidewell.ingest.log import LogError, LogUnavailableError, Record
from tidewell.ingest.record import version_from_headers

# Transient while a topic's partitions are being created (the client's metadata does
# not list them yet) or have no leader (just created, or the leader moving), and while
# a fresh broker loads or elects the group coordinator (``__consumer_offsets`` is
# created on the first group request: Apache Kafka answers NOT_COORDINATOR meanwhile).
_TRANSIENT_ERRORS = frozenset({
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError._UNKNOWN_TOPIC,
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError._WAIT_COORD,
})

__all__ = ["KafkaReader"]

_OFFSET_INVALID = -1001


def _to_record(m: Message) -> Record:
    return Record(
        partition=m.partition(),
        offset=m.offset(),
        key=m.key() or b"",
        value=m.value() or b"",
        version=version_from_headers(m.headers()),
        timestamp_ms=m.timestamp()[1],
    )


class _Consumer:
    """One librdkafka consumer used from one thread at a time."""

    def __init__(self, conf: dict[str, Any]) -> None:
        self.consumer = Consumer(conf)
        self.lock = threading.Lock()
        self.position: int | None = None  # next offset the assignment will deliver
        self.partition: int | None = None

    def seek(self, topic: str, partition: int, offset: int) -> None:
        if self.partition != partition or self.position != offset:
            self.consumer.assign([TopicPartition(topic, partition, offset)])
            self.partition, self.position = partition, offset

    def close(self) -> None:
        with self.lock:
            self.consumer.close()


class KafkaReader:
    """``PartitionReader`` over librdkafka consumers (see the module docstring)."""

    def __init__(self, cfg: KafkaConfig, *, request_timeout_s: float | None = None) -> None:
        self.cfg = cfg
        self.topic = cfg.topic
        self.timeout = request_timeout_s or cfg.write_timeout
        self._base = client_config(cfg, cfg.consume_address(), "reader") | {
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
            "group.id": (cfg.client_id or "tidewell") + "-reader",
        }
        self._executor = ThreadPoolExecutor(8, thread_name_prefix="tidewell-kafka-reader")
        self._fetchers: dict[int, _Consumer] = {}
        self._probe = _Consumer(
            self._base | {"enable.partition.eof": True, "fetch.wait.max.ms": 10}
        )
        self._groups: dict[str, _Consumer] = {}
        self._end_lock = asyncio.Lock()
        self._probes_started: dict[int, int] = {}
        self._last_probe: dict[int, tuple[int, int]] = {}
        self._closed = False

    async def _run(self, fn: Any, *args: Any) -> Any:
        """Run a blocking call in the pool; leaderless partitions are waited out.

        Right after another process created the topic, librdkafka does not know its
        partitions yet, and Apache Kafka answers NOT_LEADER_FOR_PARTITION until each
        has a leader (as after a leader moves), and NOT_COORDINATOR until its group
        coordinator is up; like Kafka's own clients we retry those until the request
        timeout.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            if self._closed:
                raise LogUnavailableError("Kafka reader is closed")
            try:
                return await asyncio.get_running_loop().run_in_executor(
                    self._executor, fn, *args)
            except KafkaException as e:
                code = e.args[0].code() if isinstance(e.args[0], KafkaError) else None
                if code not in _TRANSIENT_ERRORS or time.monotonic() >= deadline:
                    raise LogUnavailableError(f"Kafka request failed: {e}") from e
            await asyncio.sleep(0.1)

    # -- fetch -------------------------------------------------------------------

    async def fetch(
        self, partition: int, offset: int, max_records: int, timeout_s: float
    ) -> list[Record]:
        c = self._fetchers.get(partition)
        if c is None:
            c = self._fetchers[partition] = _Consumer(self._base)
        return await self._run(self._fetch, c, partition, offset, max_records, timeout_s)

    def _fetch(
        self, c: _Consumer, partition: int, offset: int, max_records: int, timeout_s: float
    ) -> list[Record]:
        with c.lock:
            c.seek(self.topic, partition, offset)
            first = c.consumer.poll(max(0.0, timeout_s))
            if first is None:
                return []
            msgs = [first]
            if max_records > 1:
                msgs += c.consumer.consume(max_records - 1, timeout=0)
            out: list[Record] = []
            for m in msgs:
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    c.position = None  # re-assign on the next fetch
                    if out:
                        break
                    raise LogUnavailableError(f"Kafka fetch failed: {err.str()}")
                if m.offset() < offset:
                    continue
                out.append(_to_record(m))
            if out:
                c.position = out[-1].offset + 1
            return out

    # -- offsets ------------------------------------------------------------------

    async def end_offset(self, partition: int) -> int:
        """The end offset as of a probe that *started* after this call (shared by callers).

        Strong-read-consistency queries ask for it on every request; callers
        that arrive while a probe runs wait for the next one and share it, so
        a burst of queries costs two probes, not one each. Each probe counts in
        ``cortex_ingest_storage_reader_last_produced_offset_requests_total`` (Mimir's).
        """
        called_at = self._probes_started.get(partition, 0)
        async with self._end_lock:
            seq, value = self._last_probe.get(partition, (0, 0))
            if seq > called_at:
                return value
            seq = self._probes_started[partition] = self._probes_started.get(partition, 0) + 1
            label = str(partition)
            m.LAST_PRODUCED_OFFSET_REQUESTS.labels(label).inc()
            try:
                value = int(await self._run(self._end_offset, partition))
            except Exception:
                m.LAST_PRODUCED_OFFSET_FAILURES.labels(label).inc()
                raise
            self._last_probe[partition] = (seq, value)
            return value

    def _end_offset(self, partition: int) -> int:
        with self._probe.lock:
            _lo, hi = self._probe.consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=self.timeout, cached=False
            )
            return self._scan(partition, hi, None)

    def _scan(self, partition: int, offset: int, ts_ms: int | None) -> int:
        """Read from ``offset`` to the first record with timestamp >= ``ts_ms`` or the end.

        Called with the probe lock held. With ``ts_ms=None`` it returns the end offset.
        """
        probe = self._probe
        probe.partition = probe.position = None
        probe.consumer.assign([TopicPartition(self.topic, partition, offset)])
        deadline = time.monotonic() + self.timeout
        end = offset
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LogUnavailableError(
                        f"Kafka: no end of partition {partition} within {self.timeout}s"
                    )
                # poll() returns at the first message or event; consume() then drains
                # what is already buffered without waiting (it would wait for all 1000).
                first = probe.consumer.poll(min(remaining, 0.5))
                if first is None:
                    continue
                for m in [first, *probe.consumer.consume(1000, timeout=0)]:
                    err = m.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            return max(end, m.offset())
                        raise LogUnavailableError(f"Kafka fetch failed: {err.str()}")
                    if ts_ms is not None and m.timestamp()[1] >= ts_ms:
                        return m.offset()
                    end = max(end, m.offset() + 1)
        finally:
            probe.consumer.unassign()

    async def start_offset(self, partition: int) -> int:
        return int(await self._run(self._start_offset, partition))

    def _start_offset(self, partition: int) -> int:
        with self._probe.lock:
            lo, _hi = self._probe.consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=self.timeout, cached=False
            )
            return int(lo)

    async def offset_for_timestamp(self, partition: int, timestamp_ms: int) -> int:
        return int(await self._run(self._offset_for_timestamp, partition, timestamp_ms))

    def _offset_for_timestamp(self, partition: int, timestamp_ms: int) -> int:
        with self._probe.lock:
            tp = TopicPartition(self.topic, partition, timestamp_ms)
            (res,) = self._probe.consumer.offsets_for_times([tp], timeout=self.timeout)
            if res.error is not None:  # _run retries a leaderless partition
                raise KafkaException(res.error)
            if res.offset < 0:  # no record at or after the timestamp
                _lo, hi = self._probe.consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=self.timeout, cached=False
                )
                return self._scan(partition, hi, None)
            return self._scan(partition, res.offset, timestamp_ms)

    # -- consumer groups ------------------------------------------------------------

    def _group(self, group: str) -> _Consumer:
        if not group:
            raise LogError("consumer group must not be empty")
        c = self._groups.get(group)
        if c is None:
            c = self._groups[group] = _Consumer(self._base | {"group.id": group})
        return c

    async def commit(self, group: str, partition: int, offset: int) -> None:
        await self._run(self._commit, self._group(group), partition, offset)

    def _commit(self, c: _Consumer, partition: int, offset: int) -> None:
        with c.lock:
            c.consumer.commit(
                offsets=[TopicPartition(self.topic, partition, offset)], asynchronous=False
            )

    async def committed(self, group: str, partition: int) -> int | None:
        off = await self._run(self._committed, self._group(group), partition)
        return None if off < 0 else int(off)

    def _committed(self, c: _Consumer, partition: int) -> int:
        with c.lock:
            (tp,) = c.consumer.committed(
                [TopicPartition(self.topic, partition)], timeout=self.timeout
            )
            if tp.error is not None:
                raise KafkaException(tp.error)  # ``_run`` retries the transient ones
            return int(tp.offset) if tp.offset != _OFFSET_INVALID else -1

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        consumers = [*self._fetchers.values(), self._probe, *self._groups.values()]
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, c.close) for c in consumers))
        self._executor.shutdown(wait=False)
