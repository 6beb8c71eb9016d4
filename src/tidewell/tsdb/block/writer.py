"""Writes a Prometheus TSDB block directory atomically.

Series must be added in label order. Chunks go straight to segment files;
labels and chunk metadata stay in memory until ``finish`` writes the index and
``meta.json``, fsyncs, and renames ``<parent>/<ULID>.tmp`` to
``<parent>/<ULID>``, so a block directory either is complete or does not exist.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from ulid import ULID

from tidewell.model.labels import Labels
from tidewell.tsdb.block.chunking import (
    DEFAULT_CHUNK_RANGE_MS,
    DEFAULT_SAMPLES_PER_CHUNK,
    chunk_bounds,
)
from tidewell.tsdb.block.meta import BlockMeta, write_meta
from tidewell.tsdb.chunkenc import ENCODING_XOR, chunk_num_samples, encode_xor
from tidewell.tsdb.chunks import SEGMENT_MAX_SIZE, ChunkWriter
from tidewell.tsdb.index import ChunkMeta, SeriesEntry, write_index

__all__ = ["DEFAULT_SAMPLES_PER_CHUNK", "BlockWriter", "write_block"]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlockWriter:
    """Builds one block under ``parent``; call ``add_series*`` then ``finish``.

    ``min_time``/``max_time`` default to the data's range (``max_time`` exclusive:
    last sample + 1). ``thanos_labels`` and ``source`` fill Mimir's ``thanos``
    section of meta.json. ``chunk_range`` is the head's chunk range (the block
    range); chunks are cut at the same samples as Prometheus's head would.
    """

    def __init__(
        self,
        parent: str | os.PathLike[str],
        *,
        ulid: str | None = None,
        min_time: int | None = None,
        max_time: int | None = None,
        thanos_labels: Mapping[str, str] | None = None,
        source: str = "ingester",
        compaction_level: int = 1,
        compaction_sources: Sequence[str] = (),
        compaction_parents: Sequence[Mapping[str, object]] = (),
        samples_per_chunk: int = DEFAULT_SAMPLES_PER_CHUNK,
        chunk_range: int = DEFAULT_CHUNK_RANGE_MS,
        segment_size: int = SEGMENT_MAX_SIZE,
    ) -> None:
        self.parent = Path(parent)
        self.ulid = ulid or str(ULID())
        self.final_dir = self.parent / self.ulid
        self.tmp_dir = self.parent / (self.ulid + ".tmp")
        if self.tmp_dir.exists():
            shutil.rmtree(self.tmp_dir)
        self.tmp_dir.mkdir(parents=True)
        self._chunks = ChunkWriter(self.tmp_dir / "chunks", segment_size=segment_size)
        self._series: list[SeriesEntry] = []
        self._min_time = min_time
        self._max_time = max_time
        self._thanos_labels = dict(thanos_labels or {})
        self._source = source
        self._level = compaction_level
        self._sources = list(compaction_sources)
        self._parents = [dict(p) for p in compaction_parents]
        self._per_chunk = samples_per_chunk
        self._chunk_range = chunk_range
        self._num_samples = 0
        self._num_chunks = 0
        self._data_min: int | None = None
        self._data_max: int | None = None
        self._done = False

    def _check_order(self, labels: Labels) -> None:
        if self._series and not self._series[-1].labels < labels:
            raise ValueError(f"series out of order: {labels} after {self._series[-1].labels}")

    def _note_range(self, mint: int, maxt: int) -> None:
        if (self._min_time is not None and mint < self._min_time) or (
            self._max_time is not None and maxt >= self._max_time
        ):
            raise ValueError(
                f"samples [{mint}, {maxt}] outside the block range "
                f"[{self._min_time}, {self._max_time})"
            )
        self._data_min = mint if self._data_min is None else min(self._data_min, mint)
        self._data_max = maxt if self._data_max is None else max(self._data_max, maxt)

    def add_series(
        self,
        labels: Labels,
        timestamps: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None:
        """Add one series, cutting XOR chunks where Prometheus's head would (~120 samples)."""
        ts = np.ascontiguousarray(timestamps, dtype=np.int64)
        vs = np.ascontiguousarray(values, dtype=np.float64)
        if ts.shape[0] == 0:
            return
        if ts.shape[0] > 1 and not bool(np.all(ts[1:] > ts[:-1])):
            raise ValueError(f"timestamps of {labels} not strictly increasing")
        self._check_order(labels)
        self._note_range(int(ts[0]), int(ts[-1]))
        metas = []
        for lo, hi in chunk_bounds(ts, self._per_chunk, self._chunk_range):
            t, v = ts[lo:hi], vs[lo:hi]
            ref = self._chunks.write(ENCODING_XOR, encode_xor(t, v))
            metas.append(ChunkMeta(ref, int(t[0]), int(t[-1])))
        self._num_samples += int(ts.shape[0])
        self._num_chunks += len(metas)
        self._series.append(SeriesEntry(labels, metas))

    def add_series_chunks(
        self, labels: Labels, chunks: Iterable[tuple[int, int, bytes] | tuple[int, int, int, bytes]]
    ) -> None:
        """Add one series from ready chunks in time order.

        XOR chunks are ``(mint, maxt, data)``; other encodings (histogram chunks,
        2 and 3) come as ``(mint, maxt, encoding, data)``.
        """
        self._check_order(labels)
        metas = []
        for chunk in chunks:
            if len(chunk) == 4:
                mint, maxt, encoding, data = chunk  # type: ignore[misc]
            else:
                mint, maxt, data = chunk  # type: ignore[misc]
                encoding = ENCODING_XOR
            self._note_range(int(mint), int(maxt))
            ref = self._chunks.write(int(encoding), bytes(data))
            metas.append(ChunkMeta(ref, int(mint), int(maxt)))
            self._num_samples += chunk_num_samples(data)
        if not metas:
            return
        self._num_chunks += len(metas)
        self._series.append(SeriesEntry(labels, metas))

    def finish(self) -> BlockMeta:
        """Write index and meta.json, then move the block into place."""
        if self._done:
            raise RuntimeError("block already finished")
        self._done = True
        try:
            self._chunks.close()
            index_size = write_index(self.tmp_dir / "index", self._series)
            min_time = self._min_time
            if min_time is None:
                min_time = self._data_min if self._data_min is not None else 0
            max_time = self._max_time
            if max_time is None:
                max_time = self._data_max + 1 if self._data_max is not None else min_time
            seg_files = [p.name for p in self._chunks.files]
            files: list[dict[str, object]] = [
                {"rel_path": f"chunks/{p.name}", "size_bytes": p.stat().st_size}
                for p in self._chunks.files
            ]
            files.append({"rel_path": "index", "size_bytes": index_size})
            files.append({"rel_path": "meta.json"})
            meta = BlockMeta(
                ulid=self.ulid,
                min_time=min_time,
                max_time=max_time,
                num_samples=self._num_samples,
                num_series=len(self._series),
                num_chunks=self._num_chunks,
                compaction_level=self._level,
                compaction_sources=self._sources or [self.ulid],
                compaction_parents=self._parents,
                thanos_labels=self._thanos_labels,
                source=self._source,
                segment_files=seg_files,
                files=files,
            )
            write_meta(self.tmp_dir, meta)
            _fsync_dir(self.tmp_dir / "chunks")
            _fsync_dir(self.tmp_dir)
            if self.final_dir.exists():
                raise FileExistsError(f"block {self.final_dir} already exists")
            os.rename(self.tmp_dir, self.final_dir)
            _fsync_dir(self.parent)
        except BaseException:
            self.abort()
            raise
        return meta

    def abort(self) -> None:
        """Drop the temp directory; nothing becomes visible."""
        self._done = True
        self._chunks.close()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    @property
    def path(self) -> Path:
        return self.final_dir


def write_block(
    parent: str | os.PathLike[str],
    series: Iterable[tuple[Labels, npt.NDArray[np.int64], npt.NDArray[np.float64]]],
    **kwargs: object,
) -> tuple[Path, BlockMeta]:
    """Write ``series`` (sorted by labels) as one block; returns (block dir, meta)."""
    w = BlockWriter(parent, **kwargs)  # type: ignore[arg-type]
    try:
        for labels, ts, vs in series:
            w.add_series(labels, ts, vs)
    except BaseException:
        w.abort()
        raise
    meta = w.finish()
    return w.path, meta
