"""Records into tenants' heads: decode, resolve series (what the WAL logs), append.

Used by consumption (``Ingester.push``) and by replay of the local WAL, so both
create series with the same refs and count the same metrics. Every method runs
on the ingester's append thread.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable

from tidewell.ingest import metrics as rm
from tidewell.ingest.log import Record
from tidewell.ingester import metrics as m
from tidewell.ingester.limits import IngesterLimits, LocalLimits
from tidewell.ingester.user_tsdb import TenantRegistry, TenantTSDB
from tidewell.ingester.wal import ResolvedEntry
from tidewell.model import Exemplar, Labels
from tidewell.model.batch import SampleBatch
from tidewell.model.errors import TidewellError
from tidewell.tsdb.head import AppendResult, Head

__all__ = ["Decoder", "LocalStateError", "RecordAppender", "ResolveFailedError",
           "default_decoder"]

log = logging.getLogger("tidewell.ingester")

Decoder = Callable[[bytes, int], SampleBatch]


class LocalStateError(TidewellError, RuntimeError):
    """The local WAL, snapshot and blocks do not fit together; startup stops here."""


class ResolveFailedError(TidewellError):
    """A record could not be decoded or resolved (``kind``: 'decode' or 'apply').

    ``orphans`` logs the series the failed attempt created before it failed (no
    samples, at the previous offset, so a restart still retries the record): the
    WAL must hold every series the head has, or replay would not line up.
    """

    def __init__(self, tenant: str, cause: BaseException, kind: str,
                 orphans: ResolvedEntry | None = None) -> None:
        super().__init__(f"{kind} failed for tenant {tenant!r}: {cause!r}")
        self.tenant = tenant
        self.cause = cause
        self.kind = kind
        self.orphans = orphans


def default_decoder() -> Decoder:
    """Record values to batches; labels are built only for series a head does not know
    by their ``series_keys`` (no label cache: it would cost ~250 bytes per series)."""
    from tidewell.protocol.records import decode_record_value

    return decode_record_value


class RecordAppender:
    """Turns records and WAL entries into appends to the tenants' heads."""

    def __init__(self, tenants: TenantRegistry, limits: IngesterLimits,
                 local_limits: LocalLimits, decoder: Decoder, partition: int) -> None:
        self.tenants = tenants
        self.limits = limits
        self.local_limits = local_limits
        self.decoder = decoder
        self.partition = partition
        self._last_error_log = 0.0

    def tenant(self, tenant: str) -> TenantTSDB:
        """The tenant's TSDB, created (and counted) on first use."""
        tsdb, created = self.tenants.get_or_create(tenant)
        if created:
            m.MEMORY_USERS.inc()
        return tsdb

    def resolve(self, r: Record) -> tuple[ResolvedEntry, AppendResult | None]:
        """Decode a record and find or create its series: what the WAL logs for it.

        The result (None: nothing to append) carries the series-limit rejections.
        Raises :class:`ResolveFailedError` when the record cannot be taken.
        """
        rm.REQUESTS.inc()
        tenant = r.key.decode("utf-8", "replace")
        entry = ResolvedEntry(r.offset, r.timestamp_ms, tenant)
        try:
            batch = self.decoder(r.value, r.version)
        except Exception as exc:
            raise ResolveFailedError(tenant, exc, "decode") from exc
        if batch.num_samples == 0 and not batch.exemplars and not batch.metadata:
            return entry, None
        try:
            head = self.tenant(tenant).head
            max_series = self.local_limits.max_series(tenant)
        except Exception as exc:
            raise ResolveFailedError(tenant, exc, "apply") from exc
        with head.lock:
            first = head.num_series
            try:
                entry.refs, entry.timestamps, entry.values, res = head.resolve(
                    batch, max_series=max_series)
                if batch.histograms:
                    entry.hist_refs, entry.hist_timestamps, entry.histograms = (
                        head.resolve_histograms(batch, max_series=max_series, result=res))
                entry.first_ref, entry.new_labels = first, head.labels[first:]
                entry.exemplars = _exemplars_of_known_series(batch, head)
            except Exception as exc:
                orphans = None
                if head.num_series > first:
                    orphans = ResolvedEntry(r.offset - 1, r.timestamp_ms, tenant,
                                            first_ref=first, new_labels=head.labels[first:])
                raise ResolveFailedError(tenant, exc, "apply", orphans) from exc
        entry.metadata = batch.metadata
        entry.ooo_window_ms = int(self.limits.out_of_order_time_window(tenant) * 1000)
        return entry, res

    def replay(self, e: ResolvedEntry) -> None:
        """Recreate a logged entry's new series (same refs), then append its samples."""
        if e.state:
            apply_extras(self.tenant(e.tenant), e)
            return
        if not e.new_labels and e.refs.shape[0] == 0 and not e.has_extras:
            return
        head = self.tenant(e.tenant).head
        with head.lock:
            if head.num_series != e.first_ref:
                raise LocalStateError(
                    f"WAL entry at offset {e.offset} creates series from ref {e.first_ref} "
                    f"but tenant {e.tenant!r} has {head.num_series}: the WAL does not "
                    "continue the snapshot")
            for labels in e.new_labels:
                head.create_series(labels)
        self.append_or_skip(e, AppendResult(series_created=len(e.new_labels)), attempts=1)

    def append_or_skip(self, e: ResolvedEntry, res: AppendResult | None,
                       attempts: int) -> None:
        """``append``, tried ``attempts`` times (with backoff); then skipped, loudly.

        The entry is in the WAL already: it cannot be refetched, and replay takes
        the same path, so an entry that always fails must not stop ingestion or a
        restart. The head may keep part of it (appends are idempotent).
        """
        delay = 0.05
        for attempt in range(1, attempts + 1):
            try:
                self.append(e, res)
                return
            except Exception as exc:
                if attempt < attempts:
                    log.warning("failed to append a record, retrying", extra={"fields": {
                        "partition": self.partition, "offset": e.offset, "user": e.tenant,
                        "attempt": attempt, "err": repr(exc)}})
                    time.sleep(delay)
                    delay *= 2
                    continue
                log.error(
                    "skipping a record that failed every attempt: its samples are NOT stored",
                    extra={"fields": {
                        "partition": self.partition, "offset": e.offset, "user": e.tenant,
                        "attempt": attempt, "stage": "apply", "err": repr(exc),
                        "traceback": "".join(traceback.format_exception(exc))}})
                rm.RECORDS_SKIPPED.labels(str(self.partition), "apply").inc()

    def append(self, e: ResolvedEntry, res: AppendResult | None) -> None:
        """Append a resolved entry's samples, exemplars and metadata; count the outcome."""
        if res is None:
            return
        tenant = e.tenant
        tsdb = self.tenant(tenant)
        tsdb.head.append_resolved(
            e.refs, e.timestamps, e.values, ooo_window_ms=e.ooo_window_ms, result=res)
        if e.histograms:
            tsdb.head.append_histograms(e.hist_refs, e.hist_timestamps, e.histograms,
                                        ooo_window_ms=e.ooo_window_ms, result=res)
        apply_extras(tsdb, e)
        if res.series_created:
            m.MEMORY_SERIES.inc(res.series_created)
        if res.accepted:
            m.INGESTED_SAMPLES.labels(tenant).inc(res.accepted)
        if res.duplicates:
            m.DUPLICATE_SAMPLES.labels(tenant).inc(res.duplicates)
        if res.late:
            m.LATE_SAMPLES.labels(tenant).inc(res.late)
        if res.rejected:
            rm.REQUESTS_FAILED.labels("client").inc()
            for reason, count in res.rejected.items():
                m.DISCARDED_SAMPLES.labels(reason=reason.value, user=tenant).inc(count)
            now = time.monotonic()
            if now - self._last_error_log > 1.0:
                self._last_error_log = now
                log.warning(
                    "samples rejected",
                    extra={"fields": {"partition": self.partition, "offset": e.offset,
                                      "user": tenant, "rejected": res.rejected_total,
                                      "err": res.first_error}},
                )

    def state_entries(self, next_offset: int) -> list[ResolvedEntry]:
        """Every tenant's exemplars and metadata, to log beside a head snapshot."""
        out = []
        for t in self.tenants:
            e = ResolvedEntry(next_offset - 1, 0, t.tenant, state=True,
                              exemplars=t.exemplars.by_arrival(),
                              metadata=t.metadata.query())
            if e.has_extras:
                out.append(e)
        return out


def apply_extras(tsdb: TenantTSDB, e: ResolvedEntry) -> None:
    """Exemplars and metadata of an entry into the tenant's stores."""
    if e.exemplars:
        appended = failed = 0
        for labels, exemplars in e.exemplars:
            got = tsdb.exemplars.add(labels, exemplars)
            appended += got.appended
            failed += got.rejected
        m.INGESTED_EXEMPLARS.inc(appended)
        if failed:
            m.INGESTED_EXEMPLARS_FAILURES.inc(failed)
    if e.metadata:
        md = tsdb.metadata.add(e.metadata)
        m.INGESTED_METADATA.inc(md.created + md.refreshed)
        if md.rejected:
            m.INGESTED_METADATA_FAILURES.inc(md.rejected)


def _exemplars_of_known_series(
    batch: SampleBatch, head: Head
) -> list[tuple[Labels, list[Exemplar]]]:
    """The batch's exemplars grouped by series, for series the head holds.

    As Mimir's ingester: an exemplar needs its series (one refused by the
    series limit, or never sent a sample, has none); the others are counted in
    ``cortex_ingester_ingested_exemplars_failures_total``. Caller holds ``head.lock``.
    """
    if not batch.exemplars:
        return []
    by: dict[int, list[Exemplar]] = {}
    for i, ex in batch.exemplars:
        by.setdefault(i, []).append(ex)
    out = []
    missing = 0
    for i, exs in by.items():
        labels = batch.labels[i]
        if head.get_ref(labels) is None:
            missing += len(exs)
        else:
            out.append((labels, exs))
    if missing:
        m.INGESTED_EXEMPLARS_FAILURES.inc(missing)
    return out
