"""The distributor: validate a write request, apply tenant limits, shard it, log it.

Every protocol arrives here as RW 1.0 bytes. The request is scanned in place
(``protocol.wire``), checked and hashed per series in one compiled pass
(``kernels``), and the valid series are copied as byte spans into one record per
partition. The push returns only after the log acknowledged every record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from tidewell.distributor import kernels as k
from tidewell.distributor import metrics as m
from tidewell.distributor.config import DistributorConfig
from tidewell.distributor.errors import (
    InvalidRequestError,
    PartialValidationError,
    RateLimitedError,
    UnavailableError,
)
from tidewell.distributor.limits import Limits, Overrides
from tidewell.distributor.ratelimit import RateLimiter
from tidewell.distributor.records import build_records
from tidewell.distributor.series import (
    check_series_histograms,
    exemplar_bounds,
    exemplars_to_fix,
    fix_exemplars,
    parse_series,
    series_pb,
)
from tidewell.distributor.validation import (
    V_INVALID_HISTOGRAM,
    V_OUT_OF_BOUNDS,
    V_TOO_FAR_IN_FUTURE,
    V_TOO_FAR_IN_PAST,
    format_failure,
    reason_of,
)
from tidewell.distributor.workers import off_loop
from tidewell.ingest.log import LogError, LogUnavailableError, LogWriter, ProduceRequest
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.wire import ScanError, ScanResult, scan_write_request
from tidewell.ring.partition_ring import NoActivePartitionError, PartitionRing

__all__ = ["DEFAULT_MAX_RECORD_SIZE", "Distributor", "PushResult", "RingSource"]

DEFAULT_MAX_RECORD_SIZE = 15_983_616
# Room for the key and the log's own framing inside a record of max_record_size.
_RECORD_HEADROOM = 512

log = logging.getLogger("tidewell.distributor")


INT64_MIN = int(np.iinfo(np.int64).min)


class RingSource(Protocol):
    def partition_ring(self) -> PartitionRing: ...


@dataclass(slots=True)
class PushResult:
    """What was written (for RW 2.0 response headers) and what was rejected."""

    samples: int = 0
    histograms: int = 0
    exemplars: int = 0
    metadata: int = 0
    records: int = 0
    errors: list[str] = field(default_factory=list)
    rejected_series: int = 0


def _rate_limit_message(limits: Limits) -> str:
    return (
        "the request has been rejected because the tenant exceeded the ingestion rate limit, "
        f"set to {limits.ingestion_rate:g} items/s with a maximum allowed burst of "
        f"{limits.ingestion_burst_size}. This limit is applied on the total number of samples, "
        "exemplars and metadata received across all distributors "
        "(err-mimir-tenant-max-ingestion-rate). To adjust the related per-tenant limits, "
        "configure -distributor.ingestion-rate-limit and -distributor.ingestion-burst-size, "
        "or contact your service administrator."
    )


def _burst_message(limits: Limits, items: int) -> str:
    return (
        "the request has been rejected because the tenant exceeded the ingestion burst size "
        f"limit, set to {limits.ingestion_burst_size}, with {items} items. This limit is applied "
        "on the total number of samples, exemplars and metadata received across all "
        "distributors (err-mimir-tenant-max-ingestion-rate). To adjust the related per-tenant "
        "limit, configure -distributor.ingestion-burst-size, or contact your service "
        "administrator."
    )


def _field(num: int, payload: bytes) -> bytes:
    """Encode a length-delimited field ``num`` around ``payload``."""
    n = len(payload)
    out = bytearray([(num << 3) | 2])
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + payload


class Distributor:
    """Accepts write requests for tenants and produces them to the ingest log."""

    def __init__(
        self,
        config: DistributorConfig,
        overrides: Overrides,
        ring: RingSource,
        writer: LogWriter,
        *,
        max_record_size: int = DEFAULT_MAX_RECORD_SIZE,
        clock=time.time,
    ) -> None:
        """``max_record_size`` is ``-ingest-storage.kafka.producer-max-record-size-bytes``."""
        self.config = config
        self.overrides = overrides
        self.ring = ring
        self.writer = writer
        self.max_record_size = max_record_size
        self.clock = clock
        self.rate_limiter = RateLimiter()
        self.appendable_floors: Callable[[str], dict[int, int]] | None = None
        """In one process with the ingesters: per partition, the oldest timestamp the
        tenant's head there can still store (``Ingester.appendable_floors``)."""

    def _refuse_below_floors(self, tenant: str, res: ScanResult, code: np.ndarray,
                             token: np.ndarray, ring: PartitionRing) -> None:
        """Mark series whose samples are all older than their head takes (``V_OUT_OF_BOUNDS``).

        The ingester would store them out of order as late samples (older than
        its head takes in order, Prometheus's ``sample-timestamp-too-old``);
        refused here, a client whose clock or backlog is that far off learns it
        with a 400, as from Prometheus. Heads only move forward, so a floor read
        now is never above the one the ingester applies later. A series
        straddling the floor goes through (all its samples are kept).
        """
        assert self.appendable_floors is not None
        floors = self.appendable_floors(tenant)
        if not floors:
            return
        cand = np.flatnonzero((code == 0) & ((res.n_samples + res.n_histograms) > 0))
        if cand.shape[0] == 0:
            return
        try:
            parts = ring.active_partitions_for(token[cand])
        except NoActivePartitionError:
            return  # answered with 503 below
        known = np.fromiter(floors.keys(), dtype=np.int64, count=len(floors))
        lut = np.full(max(int(known.max()), int(parts.max())) + 1, INT64_MIN, dtype=np.int64)
        lut[known] = np.fromiter(floors.values(), dtype=np.int64, count=len(floors))
        old = res.ts_max[cand] < lut[parts]
        code[cand[old]] = V_OUT_OF_BOUNDS

    # -- request preparation -------------------------------------------------------------

    def _rewrite(
        self, res: ScanResult, fix: np.ndarray, limits: Limits, tenant: str,
        histograms: dict[int, list[pb.Histogram]], ex_bounds: tuple[int, int],
    ) -> bytes:
        """Re-encode series whose labels need sorting/cleaning, or whose parts change.

        Series keep their order, so indexes into ``res`` stay valid for the result.
        """
        raw = res.buf.tobytes()
        drop_exemplars = limits.max_global_exemplars_per_user <= 0
        parts: list[bytes] = []
        for i in range(res.n_series):
            s, e = int(res.ser_start[i]), int(res.ser_end[i])
            needs = fix[i] or i in histograms or (drop_exemplars and res.n_exemplars[i])
            if not needs:
                parts.append(raw[s:e])
                continue
            ts = parse_series(raw[int(res.ser_payload[i]) : e])
            if fix[i]:
                pairs = sorted(
                    ((lab.name, lab.value) for lab in ts.labels if lab.value != ""),
                    key=lambda p: p[0].encode(),
                )
                del ts.labels[:]
                for name, value in pairs:
                    lab = ts.labels.add()
                    lab.name = name
                    lab.value = value
            if i in histograms:
                del ts.histograms[:]
                ts.histograms.extend(histograms[i])
            if drop_exemplars:
                if ts.exemplars:
                    m.DISCARDED_EXEMPLARS.labels(tenant, "exemplars_disabled").inc(
                        len(ts.exemplars))
                del ts.exemplars[:]
            elif ts.exemplars:
                fix_exemplars(ts, tenant, limits, ex_bounds)
            parts.append(_field(1, ts.SerializeToString()))
        for j in range(res.meta_start.shape[0]):
            parts.append(raw[int(res.meta_start[j]) : int(res.meta_end[j])])
        return b"".join(parts)

    def _checks(self, res: ScanResult, tenant: str, limits: Limits):
        return k.series_checks(
            res,
            tenant,
            max_label_names=limits.max_label_names_per_series,
            max_label_names_info=max(
                limits.max_label_names_per_info_series, limits.max_label_names_per_series
            ),
            max_label_name_length=limits.max_label_name_length,
            max_label_value_length=limits.max_label_value_length,
            utf8_names=limits.name_validation_scheme == "utf8",
        )

    def _metadata(
        self, res: ScanResult, raw: bytes, tenant: str, limits: Limits, ring: PartitionRing,
        result: PushResult,
    ) -> list[tuple[int, bytes]]:
        """Validate metadata entries; place each by tenant + metric family name."""
        out: list[tuple[int, bytes]] = []
        seed = k.fnv1_32(tenant.encode())
        max_len = limits.max_metadata_length
        for j in range(res.meta_start.shape[0]):
            s, e = int(res.meta_start[j]), int(res.meta_end[j])
            try:
                md = pb.WriteRequest.FromString(raw[s:e]).metadata[0]
            except Exception:
                raise InvalidRequestError("invalid write request: bad metadata entry") from None
            name = md.metric_family_name
            reason = None
            if not name:  # -validation.enforce-metadata-metric-name (Mimir's default)
                reason = "missing_metric_name"
                result.errors.append("received a metric metadata with no metric name "
                                     "(err-mimir-metadata-missing-metric-name)")
            elif len(name.encode()) > max_len:
                reason = "metric_name_too_long"
                result.errors.append(
                    "received a metric metadata whose metric name length exceeds the limit, "
                    f"metric name: '{name[:200]}' (err-mimir-metric-name-too-long). To adjust "
                    "the related per-tenant limit, configure -validation.max-metadata-length, "
                    "or contact your service administrator."
                )
            elif len(md.unit.encode()) > max_len:
                reason = "unit_too_long"
                result.errors.append(
                    "received a metric metadata whose unit name length exceeds the limit, "
                    f"unit: '{md.unit[:200]}' metric name: '{name[:200]}' "
                    "(err-mimir-unit-too-long). To adjust the related per-tenant limit, "
                    "configure -validation.max-metadata-length, or contact your service "
                    "administrator."
                )
            if reason is not None:
                m.DISCARDED_METADATA.labels(tenant, reason).inc()
                continue
            chunk = raw[s:e]
            if len(md.help.encode()) > max_len:
                md.help = md.help.encode()[:max_len].decode("utf-8", "ignore")
                chunk = _field(3, md.SerializeToString())
            token = k.fnv1_32(name.encode(), seed)
            part = ring.active_partition_for(token)
            out.append((part, chunk))
            result.metadata += 1
        return out

    # -- the push ------------------------------------------------------------------------

    def _prepare(
        self, tenant: str, raw: bytes
    ) -> tuple[PushResult, list[ProduceRequest], int, int, int]:
        """Worker thread: scan, validate and shard a request into records (no I/O).

        Returns (result so far, records, samples, histograms, exemplars).
        """
        limits = self.overrides.for_tenant(tenant)
        try:
            res = scan_write_request(raw)
        except ScanError as e:
            raise InvalidRequestError(f"failed to parse write request: {e}") from None
        fix, code, bad, token = self._checks(res, tenant, limits)
        now_ms = int(self.clock() * 1000)
        hist_failed: dict[int, tuple[str, str]] = {}
        hist_new: dict[int, list[pb.Histogram]] = {}
        if res.n_histograms.any():
            hist_failed, hist_new = check_series_histograms(res, tenant, limits)
        ex_bounds = exemplar_bounds(res, limits, now_ms)
        needs_rewrite = bool(fix.any()) or bool(hist_new)
        if res.n_exemplars.any():
            if limits.max_global_exemplars_per_user <= 0:
                needs_rewrite = True
            else:
                bad_ex = exemplars_to_fix(
                    res, ex_bounds, limits.max_exemplars_per_series_per_request)
                if bad_ex.any():
                    fix = fix | bad_ex.astype(fix.dtype)
                    needs_rewrite = True
        if needs_rewrite:
            raw = self._rewrite(res, fix, limits, tenant, hist_new, ex_bounds)
            res = scan_write_request(raw)
            fix, code, bad, token = self._checks(res, tenant, limits)
        code = code.astype(np.int16)
        for i in hist_failed:
            if code[i] == 0:
                code[i] = V_INVALID_HISTOGRAM

        # Timestamps (per series min/max over samples and histograms).
        has_data = (res.n_samples + res.n_histograms) > 0
        future = has_data & (res.ts_max > now_ms + int(limits.creation_grace_period * 1000))
        code[(code == 0) & future] = V_TOO_FAR_IN_FUTURE
        if limits.past_grace_period > 0:
            window = limits.past_grace_period + limits.out_of_order_time_window
            oldest = now_ms - int(window * 1000)
            past = has_data & (res.ts_min < oldest)
            code[(code == 0) & past] = V_TOO_FAR_IN_PAST
        ring = self.ring.partition_ring()
        if limits.ingestion_partitions_tenant_shard_size > 0:
            ring = ring.shuffle_shard(tenant, limits.ingestion_partitions_tenant_shard_size)
        if self.appendable_floors is not None:
            self._refuse_below_floors(tenant, res, code, token, ring)

        result = PushResult()
        valid = code == 0
        n_items = res.n_samples + res.n_histograms
        if not valid.all():
            self._report_failures(res, tenant, limits, code, bad, n_items, result, hist_failed)

        samples = int(res.n_samples[valid].sum())
        histograms = int(res.n_histograms[valid].sum())
        exemplars = int(res.n_exemplars[valid].sum())
        n_meta = int(res.meta_start.shape[0])
        total = samples + histograms + exemplars + n_meta
        if total and not self.rate_limiter.allow(
            tenant, total, limits.ingestion_rate, limits.ingestion_burst_size
        ):
            m.DISCARDED_SAMPLES.labels(tenant, "rate_limited").inc(samples + histograms)
            if total > limits.ingestion_burst_size:
                raise RateLimitedError(_burst_message(limits, total))
            raise RateLimitedError(_rate_limit_message(limits))

        try:
            parts = ring.active_partitions_for(token[valid])
            meta = self._metadata(res, raw, tenant, limits, ring, result) if n_meta else []
        except NoActivePartitionError as e:
            raise UnavailableError(str(e)) from None
        records = build_records(
            res.buf, tenant, res.ser_start[valid], res.ser_end[valid], parts,
            self.max_record_size - len(tenant.encode()) - _RECORD_HEADROOM, meta,
        )
        # A record over the limit holds a single oversized series: reject just that one.
        fits = self.max_record_size - _RECORD_HEADROOM
        too_big = [r for r in records if len(r.value) + len(r.key) > fits]
        if too_big:
            records = [r for r in records if len(r.value) + len(r.key) <= fits]
            result.rejected_series += len(too_big)
            result.errors.append(
                "the write request contains a timeseries or metadata item which is larger "
                f"than the maximum allowed size of {self.max_record_size} bytes "
                "(err-mimir-distributor-max-write-request-data-item-size)"
            )
        return result, records, samples, histograms, exemplars

    async def push(self, tenant: str, raw: bytes) -> PushResult:
        """Validate, shard and durably log one uncompressed RW 1.0 request.

        Raises ``PartialValidationError`` (after writing the valid part) when some
        series were rejected, ``InvalidRequestError`` for undecodable input,
        ``RateLimitedError`` and ``UnavailableError``.
        The CPU work (scan, validation, records) runs on a push worker thread
        (``workers.off_loop``): a large request never stalls the event loop that
        serves every other request and ``/ready``.
        """
        started = time.perf_counter()
        result, records, samples, histograms, exemplars = await off_loop(
            self._prepare, tenant, raw)
        if records:
            await self._produce(tenant, records)
        result.samples, result.histograms, result.exemplars = samples, histograms, exemplars
        result.records = len(records)
        m.RECEIVED_REQUESTS.labels(tenant).inc()
        if samples + histograms:
            m.RECEIVED_SAMPLES.labels(tenant).inc(samples + histograms)
        if exemplars:
            m.RECEIVED_EXEMPLARS.labels(tenant).inc(exemplars)
        if result.metadata:
            m.RECEIVED_METADATA.labels(tenant).inc(result.metadata)
        m.REQUEST_DURATION.observe(time.perf_counter() - started)
        if result.errors:
            shown = result.errors[: self.config.max_error_messages]
            msg = "\n".join(shown)
            more = max(result.rejected_series, len(result.errors)) - len(shown)
            if more > 0:
                msg += f"\n(and {more} more series rejected)"
            raise PartialValidationError(msg, headers=_written_headers(result))
        return result

    def _report_failures(
        self, res, tenant, limits, code, bad, n_items, result,
        hist_failed: dict[int, tuple[str, str]],
    ) -> None:
        bad_idx = np.nonzero(code)[0]
        result.rejected_series = int(bad_idx.shape[0])
        # Count discarded samples per reason without touching every series in Python.
        for c in np.unique(code[bad_idx]).tolist():
            if c == V_INVALID_HISTOGRAM:
                for i in np.nonzero(code == c)[0].tolist():
                    m.DISCARDED_SAMPLES.labels(tenant, hist_failed[i][0]).inc(int(n_items[i]))
                continue
            m.DISCARDED_SAMPLES.labels(tenant, reason_of(c)).inc(
                int(n_items[code == c].sum())
            )
        now_ms = int(self.clock() * 1000)
        newest = now_ms + int(limits.creation_grace_period * 1000)
        oldest = now_ms - int(
            (limits.past_grace_period + limits.out_of_order_time_window) * 1000
        )
        for i in bad_idx[: self.config.max_error_messages].tolist():
            c = int(code[i])
            ts = 0
            if c == V_INVALID_HISTOGRAM:
                result.errors.append(hist_failed[i][1])
                continue
            if c in (V_TOO_FAR_IN_FUTURE, V_TOO_FAR_IN_PAST):
                # Mimir names the first offending sample (then histogram) of the series.
                try:
                    series = series_pb(res, i)
                    stamps = [s.timestamp for s in series.samples]
                    stamps += [h.timestamp for h in series.histograms]
                except InvalidRequestError:
                    stamps = [int(res.ts_max[i] if c == V_TOO_FAR_IN_FUTURE else res.ts_min[i])]
                bad_ts = (
                    [t for t in stamps if t > newest]
                    if c == V_TOO_FAR_IN_FUTURE
                    else [t for t in stamps if t < oldest]
                )
                ts = bad_ts[0] if bad_ts else int(res.ts_max[i])
            elif c == V_OUT_OF_BOUNDS:
                ts = int(res.ts_max[i])
            pairs = res.labels_of(i)
            result.errors.append(
                format_failure(
                    c, pairs, int(bad[i]) - int(res.lab_first[i]),
                    max_label_names=limits.max_label_names_per_series,
                    max_label_names_info=limits.max_label_names_per_info_series,
                    timestamp=ts,
                )
            )

    async def _produce(self, tenant: str, records: Sequence[ProduceRequest]) -> None:
        try:
            offsets = await self.writer.produce(records)
        except LogUnavailableError as e:
            raise UnavailableError(f"failed to write to the ingest log: {e}") from None
        except LogError as e:
            raise UnavailableError(f"failed pushing to the ingest log: {e}") from None
        if log.isEnabledFor(logging.DEBUG):
            for r, off in zip(records, offsets, strict=False):
                log.debug(
                    "produce acknowledged tenant=%s partition=%d offset=%d records=1 bytes=%d",
                    tenant, r.partition, off, len(r.value),
                )


def _written_headers(result: PushResult) -> dict[str, str]:
    return {
        "X-Prometheus-Remote-Write-Samples-Written": str(result.samples),
        "X-Prometheus-Remote-Write-Histograms-Written": str(result.histograms),
        "X-Prometheus-Remote-Write-Exemplars-Written": str(result.exemplars),
    }
