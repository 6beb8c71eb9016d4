"""One partition of the embedded log: its segments, recovery, reads and retention.

Threading contract: the event loop owns every field. The only code that runs
in another thread is ``write_batch`` (called by the log's single commit
thread), which touches nothing but the last segment's file and, when it rolls,
a brand-new segment that the loop installs afterwards with ``apply_batch``.
Readers therefore never see bytes that are not yet fsync'd: a segment's
``size`` and index only grow in ``apply_batch``, after the fdatasync.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
from array import array

from tidewell.ingest.embedded.segment import (
    LogCorruptionError,
    Segment,
    decode_frames,
    index_path,
    scan_frames,
    segment_path,
)
from tidewell.ingest.log import Record
from tidewell.ingest.metrics import EMBEDDED_PARTITION_BYTES, EMBEDDED_TRUNCATED_BYTES
from tidewell.util.fsync import fsync_dir

__all__ = ["PartitionLog", "delete_segment_files"]

log = logging.getLogger("tidewell.ingest.embedded")


def _open_segment(directory: str, base_offset: int, create: bool = False) -> Segment:
    flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
    fd = os.open(segment_path(directory, base_offset), flags, 0o644)
    return Segment(directory=directory, base_offset=base_offset, fd=fd, size=os.fstat(fd).st_size)


class PartitionLog:
    """Segments of one partition plus the offsets the writer has handed out."""

    def __init__(self, partition: int, directory: str, segments: list[Segment]) -> None:
        self.partition = partition
        self.directory = directory
        self.segments = segments
        self.next_offset = self.durable_end  # offsets handed out, durable or not
        self.last_ts = max((s.max_timestamp for s in segments), default=-1)
        self._update_size_metric()

    # -- opening and recovery ------------------------------------------------

    @classmethod
    def open(cls, partition: int, directory: str) -> PartitionLog:
        """Open (creating if needed) and recover a partition directory."""
        os.makedirs(directory, exist_ok=True)
        bases = []
        for name in os.listdir(directory):
            if name.endswith(".tmp"):
                os.unlink(os.path.join(directory, name))
            elif name.endswith(".log") and name[:-4].isdigit():
                bases.append(int(name[:-4]))
        bases.sort()
        segments: list[Segment] = []
        try:
            for i, base in enumerate(bases):
                seg = _open_segment(directory, base)
                segments.append(seg)
                if segments[:-1] and segments[-2].next_offset != base:
                    raise LogCorruptionError(
                        f"{seg.path}: starts at offset {base} but the previous segment "
                        f"ends at {segments[-2].next_offset}"
                    )
                last = i == len(bases) - 1
                if not last and seg.load_index():
                    continue
                _recover(seg, truncate=last)
            if not segments:
                segments.append(_open_segment(directory, 0, create=True))
                fsync_dir(directory)
        except BaseException:
            for seg in segments:
                seg.close()
            raise
        for name in os.listdir(directory):
            if name.endswith(".index") and int(name[:-6]) not in {s.base_offset for s in segments}:
                os.unlink(os.path.join(directory, name))
        return cls(partition, directory, segments)

    # -- state ---------------------------------------------------------------

    @property
    def durable_end(self) -> int:
        return self.segments[-1].next_offset

    @property
    def start_offset(self) -> int:
        return self.segments[0].base_offset

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self.segments)

    def _update_size_metric(self) -> None:
        EMBEDDED_PARTITION_BYTES.labels(str(self.partition)).set(self.size_bytes)

    # -- writing (commit thread, then loop) -----------------------------------

    def write_batch(self, data: bytes, roll: bool) -> Segment | None:
        """Append ``data`` durably. Runs in the commit thread; returns a new segment if rolled.

        On failure the active segment is cut back to its durable size and the
        error re-raised; a segment created by the roll is returned through the
        exception's ``new_segment`` attribute so the loop can still install it.
        """
        seg = self.segments[-1]
        new: Segment | None = None
        try:
            if roll:
                seg.write_index()
                new = _open_segment(self.directory, seg.next_offset, create=True)
                fsync_dir(self.directory)
                seg = new
            if os.fstat(seg.fd).st_size != seg.size:  # leftovers of an abandoned commit
                os.ftruncate(seg.fd, seg.size)
            view, pos = memoryview(data), seg.size
            while view:
                written = os.pwrite(seg.fd, view, pos)
                view, pos = view[written:], pos + written
            os.fdatasync(seg.fd)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.ftruncate(seg.fd, seg.size)
            e.new_segment = new  # type: ignore[attr-defined]
            raise
        return new

    def install_segment(self, new: Segment | None) -> None:
        if new is not None:
            self.segments.append(new)

    def apply_batch(self, positions: list[int], timestamps: list[int], nbytes: int) -> None:
        """Make a durable batch visible: extend the active segment's index."""
        seg = self.segments[-1]
        base = seg.size
        seg.positions.extend(base + p for p in positions)
        seg.timestamps.extend(timestamps)
        seg.size += nbytes
        self._update_size_metric()

    def rollback(self) -> None:
        """Forget offsets handed out for records that did not become durable."""
        self.next_offset = self.durable_end

    # -- reading -------------------------------------------------------------

    def read(self, offset: int, max_records: int, max_bytes: int) -> list[Record]:
        """Durable records from ``offset`` (or the start, if retention removed it)."""
        offset = max(offset, self.start_offset)
        end = self.durable_end
        out: list[Record] = []
        budget = max_bytes
        bases = [s.base_offset for s in self.segments]
        while offset < end and len(out) < max_records and budget > 0:
            seg = self.segments[bisect.bisect_right(bases, offset) - 1]
            i = offset - seg.base_offset
            if i >= seg.count:  # empty active segment after a roll
                break
            j = min(seg.count, i + max_records - len(out))
            start_pos = seg.positions[i]
            limit = start_pos + budget
            if j < seg.count and seg.positions[j] > limit:
                j = max(i + 1, bisect.bisect_right(seg.positions, limit, i, j) - 1)
            end_pos = seg.positions[j] if j < seg.count else seg.size
            data = os.pread(seg.fd, end_pos - start_pos, start_pos)
            where = f"{seg.path}@{start_pos}"
            out.extend(decode_frames(data, self.partition, j - i, where, offset))
            budget -= end_pos - start_pos
            offset = seg.base_offset + j
        return out

    def offset_for_timestamp(self, timestamp_ms: int) -> int:
        for seg in self.segments:
            if seg.count and seg.max_timestamp >= timestamp_ms:
                return seg.base_offset + bisect.bisect_left(seg.timestamps, timestamp_ms)
        return self.durable_end

    # -- retention -------------------------------------------------------------

    def expire(
        self, now_ms: int, retention_ms: int, retention_bytes: int
    ) -> list[tuple[Segment, str]]:
        """Detach the oldest sealed segments past retention; the caller deletes their files.

        Like Kafka, retention ignores consumer groups; the active segment is never removed.
        """
        removed: list[tuple[Segment, str]] = []
        total = self.size_bytes
        for seg in self.segments[:-1]:
            if retention_ms > 0 and seg.max_timestamp < now_ms - retention_ms:
                reason = "age"
            elif retention_bytes > 0 and total > retention_bytes:
                reason = "size"
            else:
                break
            removed.append((seg, reason))
            total -= seg.size
        if removed:
            del self.segments[: len(removed)]
            self._update_size_metric()
        return removed

    def close(self) -> None:
        for seg in self.segments:
            seg.close()


def delete_segment_files(seg: Segment) -> None:
    seg.close()
    for path in (seg.path, index_path(seg.directory, seg.base_offset)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _recover(seg: Segment, truncate: bool) -> None:
    """Rebuild a segment's index by scanning it; cut a torn tail if it is the last one."""
    with open(seg.path, "rb") as f:
        data = f.read()
    positions, timestamps, valid = scan_frames(data, seg.base_offset)
    seg.positions, seg.timestamps = array("q", positions), array("q", timestamps)
    if valid == len(data):
        return
    if not truncate:
        raise LogCorruptionError(
            f"{seg.path}: invalid frame at byte {valid} of a sealed segment "
            f"(offset {seg.next_offset}); refusing to drop the records after it"
        )
    log.warning(
        "truncating torn tail of embedded log segment",
        extra={"fields": {"path": seg.path, "valid_bytes": valid,
                          "removed_bytes": len(data) - valid, "next_offset": seg.next_offset}},
    )
    EMBEDDED_TRUNCATED_BYTES.inc(len(data) - valid)
    os.ftruncate(seg.fd, valid)
    os.fsync(seg.fd)
    seg.size = valid
