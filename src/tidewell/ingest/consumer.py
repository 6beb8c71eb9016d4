"""The partition consumer: fetch a partition's records and hand them to a :class:`Pusher`.

As Mimir's ``pkg/storage/ingest`` PartitionReader: it picks the start position,
runs the fetch loop (retrying the log when it is away, retrying a push that
fails), commits the offset its pusher made durable every
``consumer_group_offset_commit_interval``, and wakes the readers that wait for
read consistency. What a record becomes is the pusher's business.

A record the pusher cannot take (:class:`RecordFailedError`) must neither wedge
the partition nor vanish. One that does not decode is skipped at once (its
bytes will not change; Mimir does not retry them either); one that decoded but
could not be applied (a bug) is fetched and pushed again with backoff,
``MAX_RECORD_ATTEMPTS`` times in all, then skipped. A skip is an ERROR log
(partition, offset, tenant, stage, traceback) and
``tidewell_ingest_storage_reader_records_skipped_total``, and the pusher
records it (:meth:`Pusher.skip`), so the committed offset and a restart pass
it even when no record follows. Any other failure (the disk, the WAL) is
retried without end, as Mimir retries server errors: skipping would drop
acknowledged data over something a restart or an operator can fix, and the
lag metrics show the stall.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Protocol

from tidewell.ingest import metrics as m
from tidewell.ingest.config import KafkaConfig
from tidewell.ingest.log import PartitionReader, Record
from tidewell.model.errors import TidewellError
from tidewell.util.services import Supervisor

__all__ = [
    "FETCH_BYTES", "MAX_RECORD_ATTEMPTS", "PartitionConsumer", "Pusher",
    "ReadConsistencyTimeoutError", "RecordFailedError",
]

log = logging.getLogger("tidewell.ingest.consumer")

FETCH_BYTES = 2 * 1024 * 1024
"""Bytes per fetch the consumer aims for (see :meth:`PartitionConsumer.fetch_size`)."""


MAX_RECORD_ATTEMPTS = 5
"""Pushes of a record failing to apply before it is skipped (backoff 0.05 s doubling:
~1.5 s). A record that does not decode gets one."""


class ReadConsistencyTimeoutError(TidewellError, TimeoutError):
    """The consumer did not reach the requested offset in time (HTTP 503/504)."""


class RecordFailedError(TidewellError):
    """The pusher could not take the record at ``offset``; every record before it is in."""

    def __init__(self, offset: int, tenant: str, cause: BaseException, kind: str) -> None:
        super().__init__(f"record at offset {offset} (tenant {tenant!r}) failed: {cause!r}")
        self.offset = offset
        self.tenant = tenant
        self.cause = cause
        self.kind = kind
        """'decode' (its bytes do not parse) or 'apply' (taking it into storage failed)."""


class Pusher(Protocol):
    """Where consumed records go (Mimir's ``Pusher``): an ingester's heads."""

    async def push(self, records: Sequence[Record]) -> int:
        """Store ``records`` (in offset order); return the next offset to consume.

        :class:`RecordFailedError` says which record failed (those before it are
        stored); anything else has the same records pushed again after a backoff.
        """
        ...

    def durable_offset(self) -> int:
        """Next offset whose records all survive a restart: what may be committed."""
        ...

    async def skip(self, offset: int, tenant: str) -> None:
        """The consumer gave up on the record at ``offset`` (every one before it is stored).

        Record it as consumed, durably: ``durable_offset`` then passes it, so
        neither the committed offset nor a restart from local state fetches it
        again. A failure is retried like a failed push.
        """
        ...

    async def maintain(self) -> None:
        """Between fetches, on the consuming task: work that must not overlap a push."""
        ...


class PartitionConsumer:
    """Consumes one partition for one consumer group into a :class:`Pusher`."""

    def __init__(
        self,
        log_reader: PartitionReader,
        partition: int,
        group: str,
        kafka: KafkaConfig,
        pusher: Pusher,
        *,
        fetch_max_records: int,
        fetch_wait: float,
    ) -> None:
        self.log = log_reader
        self.partition = partition
        self.group = group
        self.kafka = kafka
        self.pusher = pusher
        self.fetch_max_records = fetch_max_records
        self.fetch_wait = fetch_wait
        self._plabel = str(partition)
        self._next_offset = 0
        """Next offset to consume: the pusher holds everything before it."""
        self._committed: int | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._avg_record_bytes = 64 * 1024.0
        self._stopping = False
        self._failing: tuple[int, int] = (-1, 0)
        """(offset, failed pushes) of the record that last failed."""

    # -- start position --------------------------------------------------------

    async def start_at(self, local_next: int | None) -> int:
        """Choose where to start (``consume_from_position_at_startup``) and return it.

        ``local_next`` is the next offset the pusher's local state already holds
        (None: none): never start before it, which would store records twice.
        """
        k, p = self.kafka, self.partition
        pos = k.consume_from_position_at_startup
        start = await self.log.start_offset(p)
        committed = await self.log.committed(self.group, p)
        if pos == "start":
            requested = start
        elif pos == "end":
            requested = await self.log.end_offset(p)
        elif pos == "timestamp":
            requested = await self.log.offset_for_timestamp(
                p, k.consume_from_timestamp_at_startup
            )
        else:
            requested = start if committed is None else committed
        if local_next is not None:
            requested = local_next if pos == "last-offset" else max(local_next, requested)
        if requested < start:
            log.warning(
                "records before the start position were deleted from the log",
                extra={"fields": {"partition": p, "wanted": requested, "start": start}},
            )
            requested = start
        self._next_offset = requested
        self._committed = committed
        return requested

    def run(self, supervisor: Supervisor) -> None:
        """Start the fetch loop and the offset-commit timer under ``supervisor``."""
        supervisor.spawn("consumer", self._consume_loop)
        supervisor.every("offset-commit",
                         self.kafka.consumer_group_offset_commit_interval, self.commit)

    async def catch_up(self, report: Callable[[str], None]) -> None:
        """Mimir's startup rule: return once the consumer lag is small enough.

        ``report`` gets a line on the progress (the module's readiness reason).
        """
        max_lag = self.kafka.max_consumer_lag_at_startup
        if max_lag <= 0:
            return
        target = self.kafka.target_consumer_lag_at_startup
        deadline = time.monotonic() + max_lag
        for attempt in range(30):
            t0 = time.monotonic()
            end = await self.log.end_offset(self.partition)
            report(f"catching up: offset {self._next_offset} of {end}")
            await self._wait_next(end, None)
            took = time.monotonic() - t0
            if took <= target or (took <= max_lag and time.monotonic() > deadline):
                break
            log.info(
                "partition consumer still lagging at startup",
                extra={"fields": {"partition": self.partition, "attempt": attempt,
                                  "lag_seconds": round(took, 3)}},
            )

    def halt(self) -> None:
        """Before cancelling the loops: the fetch loop ends at its next turn.

        Cancellation alone is not enough: Python 3.11's ``asyncio.wait_for`` can
        swallow a cancel that arrives as its inner future completes.
        """
        self._stopping = True

    async def stop(self) -> None:
        """After the loops stopped: commit once more and release every waiter."""
        self._stopping = True
        await self.commit()
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(ReadConsistencyTimeoutError("ingester is stopping"))
        self._waiters.clear()

    # -- consuming -------------------------------------------------------------

    async def _consume_loop(self) -> None:
        backoff = 0.05
        while not self._stopping:
            await self.pusher.maintain()
            try:
                records = await self.log.fetch(
                    self.partition, self._next_offset, self.fetch_size(), self.fetch_wait,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("fetch failed, retrying",
                            extra={"fields": {"partition": self.partition, "err": str(exc)}})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            records = [r for r in records if r.offset >= self._next_offset]
            if not records:
                continue
            m.RECORDS_PER_FETCH.observe(len(records))
            size = sum(len(r.value) for r in records) / len(records)
            self._avg_record_bytes = 0.8 * self._avg_record_bytes + 0.2 * size
            nxt: int | None = None
            skip: RecordFailedError | None = None
            while records:
                try:
                    if skip is not None:
                        await self.pusher.skip(skip.offset, skip.tenant)
                        self._advance(skip.offset + 1)
                        records = [r for r in records if r.offset > skip.offset]
                        skip = None
                        backoff = 0.05
                        continue  # the rest of the fetch, if any
                    nxt = await self.pusher.push(records)
                    break
                except asyncio.CancelledError:
                    raise
                except RecordFailedError as exc:
                    if self._record_failed(exc):
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 5.0)
                        break  # fetch again from the failed record
                    skip = exc
                except Exception as exc:  # server error: retry, never skip
                    m.REQUESTS_FAILED.labels("server").inc()
                    log.error("failed to ingest records, retrying",
                              extra={"fields": {"partition": self.partition, "err": repr(exc)}})
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
            if nxt is not None:
                backoff = 0.05
                self._advance(nxt)

    def _record_failed(self, exc: RecordFailedError) -> bool:
        """Count a failed push of one record; True: back off and retry it, False: skip it.

        The records before it are stored, so consumption resumes at it (or after it).
        An undecodable record is skipped at its first failure, others after
        ``MAX_RECORD_ATTEMPTS``.
        """
        if exc.offset > self._next_offset:
            self._advance(exc.offset)
        m.REQUESTS_FAILED.labels("server").inc()
        offset, attempts = self._failing
        attempts = attempts + 1 if offset == exc.offset else 1
        self._failing = (exc.offset, attempts)
        fields = {"partition": self.partition, "offset": exc.offset, "user": exc.tenant,
                  "attempt": attempts, "stage": exc.kind, "err": repr(exc.cause)}
        undecodable = exc.kind == "decode"
        if not undecodable and attempts < MAX_RECORD_ATTEMPTS:
            log.warning("failed to ingest a record, retrying", extra={"fields": fields})
            return True
        fields["traceback"] = "".join(traceback.format_exception(exc.cause))
        why = "cannot be decoded" if undecodable else "failed every attempt"
        log.error(f"skipping a record that {why}: its samples are NOT stored",
                  extra={"fields": fields})
        m.RECORDS_SKIPPED.labels(self._plabel, exc.kind).inc()
        return False

    def fetch_size(self) -> int:
        """Records per fetch: up to ``fetch_max_records``, about ``FETCH_BYTES`` in total.

        Readers may parse fetched records on the event loop; bounding a fetch's
        bytes bounds that pause (measured: about 7 ms per MB on the embedded log).
        """
        by_bytes = int(FETCH_BYTES / max(self._avg_record_bytes, 1.0))
        return max(1, min(self.fetch_max_records, by_bytes))

    def _advance(self, nxt: int) -> None:
        self._next_offset = nxt
        m.LAST_CONSUMED_OFFSET.labels(self._plabel).set(nxt - 1)
        if self._waiters:
            keep = []
            for target, fut in self._waiters:
                if nxt >= target:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    keep.append((target, fut))
            self._waiters = keep

    async def commit(self) -> None:
        """Commit the pusher's durable offset; a failure is counted and retried next time."""
        offset = self.pusher.durable_offset()
        if offset == 0 or offset == self._committed:
            return
        m.OFFSET_COMMIT_REQUESTS.labels(self._plabel).inc()
        try:
            await self.log.commit(self.group, self.partition, offset)
        except Exception as exc:
            m.OFFSET_COMMIT_FAILURES.labels(self._plabel).inc()
            log.warning("offset commit failed",
                        extra={"fields": {"partition": self.partition, "err": str(exc)}})
            return
        self._committed = offset
        m.LAST_COMMITTED_OFFSET.labels(self._plabel).set(offset - 1)
        log.debug("committed offset",
                  extra={"fields": {"partition": self.partition, "offset": offset - 1}})

    # -- read consistency ------------------------------------------------------

    @property
    def consumed_offset(self) -> int:
        """Next offset to consume (all records before it are with the pusher)."""
        return self._next_offset

    async def _wait_next(self, target: int, timeout: float | None) -> None:
        if self._next_offset >= target:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (target, fut)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise ReadConsistencyTimeoutError(
                f"partition {self.partition}: consumed up to offset {self._next_offset - 1}, "
                f"waited for {target - 1} (see -ingest-storage.kafka."
                "wait-strong-read-consistency-timeout)"
            ) from None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def _timeout(self, timeout: float | None) -> float | None:
        if timeout is None:
            return self.kafka.wait_strong_read_consistency_timeout or None
        return timeout

    async def wait_for_offset(self, offset: int, timeout: float | None = None) -> None:
        """Return once the record at ``offset`` (and all before it) is pushed."""
        await self._wait_next(offset + 1, self._timeout(timeout))

    async def wait_until_caught_up(self, end_offset: int, timeout: float | None = None) -> None:
        """Return once every record below ``end_offset`` (a high watermark) is pushed."""
        await self._wait_next(end_offset, self._timeout(timeout))

    async def wait_strong(self, timeout: float | None = None) -> None:
        """Strong read consistency: wait for everything produced before this call."""
        end = await self.log.end_offset(self.partition)
        await self.wait_until_caught_up(end, timeout)
