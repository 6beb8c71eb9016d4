"""One block in the bucket, read the store-gateway way.

The block's ``index`` is downloaded to the sync directory on first use (our
"index header") and memory-mapped with the TSDB index reader; postings,
expanded postings and series entries go through the bounded index cache.
Chunks are never downloaded whole: the segment pages holding the chunks a
query needs are fetched with ranged GETs (nearby ranges coalesced) and kept
in the chunks cache; every chunk record is CRC-checked before it is decoded.
All chunks a block contributes to a query are decoded in one vectorised call.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher
from tidewell.model.shard import split_shard
from tidewell.objstore import Bucket, ObjectNotFoundError
from tidewell.objstore.bucketindex import IndexBlock
from tidewell.storegateway import metrics as m
from tidewell.storegateway.cache import ByteLRU, IndexCache
from tidewell.tsdb.chunkenc import ENCODING_XOR, CorruptBlockError
from tidewell.tsdb.chunkenc.histogram import ENCODING_FLOAT_HISTOGRAM, ENCODING_HISTOGRAM
from tidewell.tsdb.index import IndexReader, SeriesChunks, postings_for_matchers
from tidewell.tsdb.records import (
    CHUNK_BAD_LENGTH,
    CHUNK_CRC_MISMATCH,
    CHUNK_INCOMPLETE,
    parse_chunks,
)

__all__ = ["BucketBlock", "ChunkPlan"]

_log = logging.getLogger("tidewell.storegateway")

_EST_CHUNK_BYTES = 1024  # first guess of a chunk record's size before we read its length
_MAX_REFETCH_ROUNDS = 4
_KNOWN_ENCODINGS = np.array([ENCODING_XOR, ENCODING_HISTOGRAM, ENCODING_FLOAT_HISTOGRAM],
                            dtype=np.uint8)



@dataclass(slots=True)
class ChunkPlan:
    """What one block contributes to a query: verified chunk bytes, not yet decoded.

    ``owner[k]`` is the index in ``labels`` of chunk k's series; chunk k's data
    (with its 2-byte header) is ``buf[starts[k]:ends[k]]`` and its samples lie in
    ``[mints[k], maxts[k]]``. Chunks of a series are in the index's order (by time).
    """

    block_id: str
    labels: list[Labels]
    owner: npt.NDArray[np.int64]
    buf: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    mints: npt.NDArray[np.int64]
    maxts: npt.NDArray[np.int64]
    encodings: npt.NDArray[np.uint8]
    """Chunk k's encoding: XOR (1), histogram (2) or float histogram (3)."""


class _CachedIndexReader(IndexReader):
    """The TSDB index reader with postings lists kept in the shared, bounded cache."""

    def __init__(self, path: Path, cache: IndexCache, block_id: str) -> None:
        super().__init__(path)
        self._cache = cache
        self._block_id = block_id

    def _postings_at(self, offset: int) -> npt.NDArray[np.int64]:
        hit = self._cache.get("Postings", self._block_id, offset)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        refs = super()._postings_at(offset)
        self._postings_cache.pop(offset, None)  # the bounded cache owns it
        self._cache.put("Postings", self._block_id, offset, refs, refs.nbytes + 64)
        return refs


def _matchers_key(matchers: Sequence[Matcher]) -> tuple[tuple[str, str, str], ...]:
    return tuple(sorted((mt.name, mt.type.value, mt.value) for mt in matchers))


def _series_size(s: SeriesChunks) -> int:
    """Rough memory held by a cached series entry (labels are mostly shared strings)."""
    return 200 + 64 * len(s.labels) + 24 * s.refs.shape[0]


class BucketBlock:
    """A block of one tenant: metadata from the bucket index, data from the bucket."""

    def __init__(
        self,
        bucket: Bucket,
        meta: IndexBlock,
        local_dir: Path,
        index_cache: IndexCache,
        chunks_cache: ByteLRU,
        *,
        page_size: int = 16 * 1024,
        max_gap_bytes: int = 512 * 1024,
    ) -> None:
        self.bucket = bucket  # the tenant's bucket: keys are "<ULID>/…"
        self.meta = meta
        self.id = meta.block_id
        self.local_dir = local_dir
        self.index_cache = index_cache
        self.chunks_cache = chunks_cache
        self.page_size = page_size
        self.max_gap_pages = max(0, max_gap_bytes // page_size)
        self._index: _CachedIndexReader | None = None
        self._lock = threading.Lock()
        self.closed = False

    # -- index -----------------------------------------------------------------

    @property
    def index(self) -> IndexReader:
        """The block's index, downloaded and opened on first use."""
        ir = self._index
        if ir is not None:
            return ir
        with self._lock:
            if self._index is None:
                if self.closed:
                    raise RuntimeError(f"block {self.id} was dropped")
                self._index = self._load_index()
            return self._index

    def _load_index(self) -> _CachedIndexReader:
        path = self.local_dir / "index"
        m.BLOCK_LOADS.inc()
        try:
            if not path.exists():
                self.local_dir.mkdir(parents=True, exist_ok=True)
                self.bucket.download_file(f"{self.id}/index", path)
            reader = _CachedIndexReader(path, self.index_cache, self.id)
        except CorruptBlockError:
            m.BLOCK_LOAD_FAILURES.inc()
            m.CORRUPTED_DATA.labels("index").inc()
            path.unlink(missing_ok=True)  # fetch it afresh next time
            raise
        except ObjectNotFoundError as exc:
            m.BLOCK_LOAD_FAILURES.inc()
            raise CorruptBlockError(f"index of block {self.id} missing from bucket: {exc}") from exc
        except Exception:
            m.BLOCK_LOAD_FAILURES.inc()
            raise
        m.INDEX_HEADER_LOADS.inc()
        return reader

    @property
    def index_loaded(self) -> bool:
        return self._index is not None

    def overlaps(self, mint: int, maxt: int) -> bool:
        return self.meta.within(mint, maxt)

    def expanded_postings(self, matchers: Sequence[Matcher]) -> npt.NDArray[np.int64]:
        key = _matchers_key(matchers)
        hit = self.index_cache.get("ExpandedPostings", self.id, key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        refs = postings_for_matchers(self.index, matchers)
        self.index_cache.put("ExpandedPostings", self.id, key, refs, refs.nbytes + 64)
        m.SERIES_DATA_TOUCHED.labels("postings").inc()
        return refs

    def series_many(self, refs: npt.NDArray[np.int64]) -> list[SeriesChunks]:
        """Series entries of ``refs``, through the cache (metrics counted in bulk)."""
        get = self.index_cache.lru.get
        bid = self.id
        out: list[SeriesChunks | None] = [get(("Series", bid, r)) for r in refs.tolist()]
        missing = [k for k, s in enumerate(out) if s is None]
        if missing:
            index = self.index
            assert isinstance(index, _CachedIndexReader)
            fresh = index.series_batch(refs[missing])
            for k, s in zip(missing, fresh, strict=True):
                out[k] = s
                self.index_cache.put("Series", bid, int(refs[k]), s, _series_size(s),
                                     publish=False)
        self.index_cache.count("Series", len(out), len(out) - len(missing))
        return out  # type: ignore[return-value]

    def series(self, ref: int) -> SeriesChunks:
        hit = self.index_cache.get("Series", self.id, ref)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        s = self.index.series(ref)
        self.index_cache.put("Series", self.id, ref, s, _series_size(s))
        return s

    def series_labels(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return [s.labels for s in self.series_many(self.expanded_postings(matchers))]

    # -- samples ---------------------------------------------------------------

    def plan(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> ChunkPlan | None:
        """The chunks of matching series overlapping ``[mint, maxt]``, fetched and verified.

        Decoding is left to the caller, so that the chunks of all blocks of a query
        are decoded in one call straight into their final order.
        """
        shard, matchers = split_shard(matchers)
        refs = self.expanded_postings(matchers)
        if refs.shape[0] == 0:
            return None
        series = self.series_many(refs)
        if shard is not None:  # before any chunk is read
            series = [s for s, k in zip(series, shard.keep(s.labels for s in series),
                                        strict=True) if k]
        m.SERIES_DATA_TOUCHED.labels("series").inc(len(series))
        n = len(series)
        counts = np.fromiter((s.refs.shape[0] for s in series), np.int64, n)
        if counts.sum() == 0:
            return None
        mints = np.concatenate([s.mints for s in series])
        maxts = np.concatenate([s.maxts for s in series])
        crefs = np.concatenate([s.refs for s in series])
        owner = np.repeat(np.arange(n, dtype=np.int64), counts)
        keep = (maxts >= mint) & (mints <= maxt)
        if not keep.all():
            owner, crefs, mints, maxts = owner[keep], crefs[keep], mints[keep], maxts[keep]
        if crefs.shape[0] == 0:
            return None
        m.SERIES_DATA_TOUCHED.labels("chunks").inc(int(crefs.shape[0]))
        buf, starts, ends, encs = self._load_chunks(crefs)
        known = np.isin(encs, _KNOWN_ENCODINGS)
        if not known.all():
            _log.warning("skipping %d chunks with unsupported encodings in block %s",
                         int((~known).sum()), self.id)
            owner, starts, ends = owner[known], starts[known], ends[known]
            mints, maxts, encs = mints[known], maxts[known], encs[known]
        # Renumber owners densely over the series that kept chunks.
        used, owner = np.unique(owner, return_inverse=True)
        labels = [series[i].labels for i in used.tolist()]
        return ChunkPlan(self.id, labels, owner.astype(np.int64), buf, starts, ends, mints, maxts,
                         encs.astype(np.uint8))

    # -- chunks ----------------------------------------------------------------

    def _segment_key(self, seg: int) -> str:
        return f"{self.id}/chunks/{seg + 1:06d}"

    def _pages(self, seg: int, wanted: npt.NDArray[np.int64]) -> dict[int, bytes]:
        """Pages ``wanted`` (sorted page numbers) of segment ``seg``, from cache or bucket."""
        got: dict[int, bytes] = {}
        missing: list[int] = []
        get = self.chunks_cache.get
        for p in wanted.tolist():
            data = get(("chunks", self.id, seg, p))
            if data is None:
                missing.append(p)
            else:
                got[p] = data
        m.CHUNKS_CACHE_REQUESTS.inc(len(wanted))  # counted in bulk: thousands of pages a query
        m.CHUNKS_CACHE_HITS.inc(len(got))
        if not missing:
            return got
        # Coalesce missing pages into runs, bridging gaps up to max_gap_pages.
        runs: list[list[int]] = [[missing[0], missing[0]]]
        for p in missing[1:]:
            if p - runs[-1][1] - 1 <= self.max_gap_pages:
                runs[-1][1] = p
            else:
                runs.append([p, p])
        size = self.page_size
        key = self._segment_key(seg)
        try:
            blobs = self.bucket.get_ranges(key, [(a * size, (b - a + 1) * size) for a, b in runs])
        except ObjectNotFoundError as exc:
            raise CorruptBlockError(f"chunk segment missing from bucket: {exc}", key) from exc
        fetched = 0
        for (a, b), blob in zip(runs, blobs, strict=True):
            fetched += len(blob)
            for p in range(a, b + 1):
                page = blob[(p - a) * size : (p - a + 1) * size]
                if not page:
                    break
                self.chunks_cache.put(("chunks", self.id, seg, p), page, len(page))
                got[p] = page
        m.SERIES_DATA_FETCHED_BYTES.labels("chunks").inc(fetched)
        return got

    def _load_chunks(
        self, crefs: npt.NDArray[np.uint64]
    ) -> tuple[
        npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint8]
    ]:
        """One buffer holding every chunk of ``crefs``, and where each chunk's data lies.

        Returns (buffer, data_start, data_end, encoding) in the order of ``crefs``.
        """
        crefs = crefs.astype(np.int64)
        segs = crefs >> 32
        offs = crefs & 0xFFFFFFFF
        order = np.lexsort((offs, segs))
        s_segs, s_offs = segs[order], offs[order]
        # Until we know a record's length, assume it ends before the next wanted chunk
        # and within _EST_CHUNK_BYTES.
        nxt = np.empty_like(s_offs)
        nxt[:-1] = np.where(s_segs[1:] == s_segs[:-1], s_offs[1:], s_offs[:-1] + _EST_CHUNK_BYTES)
        nxt[-1] = s_offs[-1] + _EST_CHUNK_BYTES
        need_end = np.minimum(nxt, s_offs + _EST_CHUNK_BYTES)
        for _ in range(_MAX_REFETCH_ROUNDS):
            buf, pos, limits = self._gather(s_segs, s_offs, need_end)
            start, end, enc, status = parse_chunks(buf, pos, limits)
            incomplete = status == CHUNK_INCOMPLETE
            if not incomplete.any():
                break
            need_end = np.where(incomplete, s_offs + (end - pos) + 4, need_end)
        bad = np.flatnonzero(status != 0)
        if bad.shape[0]:
            k = int(bad[0])
            what = {
                CHUNK_CRC_MISMATCH: "chunk CRC32C mismatch",
                CHUNK_BAD_LENGTH: "bad chunk length",
                CHUNK_INCOMPLETE: "chunk runs past the end of its segment (truncated)",
            }[int(status[k])]
            m.CORRUPTED_DATA.labels("chunks").inc()
            raise CorruptBlockError(what, self._segment_key(int(s_segs[k])), int(s_offs[k]))
        inv = np.empty_like(order)
        inv[order] = np.arange(order.shape[0])
        return buf, start[inv], end[inv], enc[inv]

    def _gather(
        self,
        segs: npt.NDArray[np.int64],
        offs: npt.NDArray[np.int64],
        need_end: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Concatenate the pages covering ``[offs[k], need_end[k])`` per segment.

        Returns (buffer, position of each record in it, end of the contiguous bytes
        around each record).
        """
        size = self.page_size
        first = offs // size
        last = (np.maximum(need_end, offs + 1) - 1) // size
        parts: list[bytes] = []
        pos = np.empty_like(offs)
        limits = np.empty_like(offs)
        base = 0
        for seg in np.unique(segs).tolist():
            sel = np.flatnonzero(segs == seg)
            f, la = first[sel], last[sel]
            long = np.flatnonzero(la - f > 1)
            extra = [np.arange(f[i] + 1, la[i]) for i in long.tolist()]
            wanted = np.unique(np.concatenate([f, la, *extra]))
            pages = self._pages(seg, wanted)
            # Contiguous runs of pages; a short page (end of file) ends its run. Per page
            # we have: buffer offset of its run, the run's first page, and the run's end.
            have = [p for p in wanted.tolist() if p in pages]
            roff = np.empty(len(have), dtype=np.int64)
            rfirst = np.empty(len(have), dtype=np.int64)
            rend = np.empty(len(have), dtype=np.int64)
            run_from = 0
            prev_full = False
            for i, p in enumerate(have):
                page = pages[p]
                if not (i and p == have[i - 1] + 1 and prev_full):
                    rend[run_from:i] = base
                    run_from = i
                    roff[i], rfirst[i] = base, p
                else:
                    roff[i], rfirst[i] = roff[i - 1], rfirst[i - 1]
                parts.append(page)
                base += len(page)
                prev_full = len(page) == size
            rend[run_from:] = base
            have_arr = np.asarray(have, dtype=np.int64)
            idx = np.minimum(np.searchsorted(have_arr, f), max(len(have) - 1, 0))
            found = have_arr[idx] == f if len(have) else np.zeros(f.shape[0], dtype=bool)
            seg_pos = np.where(found, roff[idx] + offs[sel] - rfirst[idx] * size, base)
            seg_lim = np.where(found, rend[idx], base)
            pos[sel] = seg_pos
            limits[sel] = seg_lim
        buf = np.frombuffer(b"".join(parts), dtype=np.uint8) if parts else np.empty(0, np.uint8)
        return buf, pos, limits

    # -- lifecycle -------------------------------------------------------------

    def close(self, *, remove_local: bool = False) -> None:
        with self._lock:
            self.closed = True
            if self._index is not None:
                self._index.close()
                self._index = None
        self.index_cache.drop_block(self.id)
        self.chunks_cache.discard_where(lambda k: k[1] == self.id)
        if remove_local:
            shutil.rmtree(self.local_dir, ignore_errors=True)

