"""Every series' open (still growing) chunk, XOR-encoded in one byte arena.

Prometheus's head appends each sample to its series' open chunk as it comes;
we do it in batches: ``Head.cut_chunks`` hands the samples staged since the
last cut, grouped by series, to one compiled call (``chunkenc.append_open_kernel``)
that appends them bit by bit to the open chunks and closes chunks where
Prometheus's head would (``chunks`` module docstring), so closed chunks are the
bytes ``encode_xor`` gives for the same samples.

No Python object per series: the state of open chunk ``ref`` is element
``ref`` of a few NumPy arrays, and the bytes of all open chunks lie back to
back, in ref order, in ``arena``. Each call writes a new arena (copying each
open chunk, then appending to it), so the arena stays compact without an
allocator. An open chunk's 2-byte sample-count header is kept current:
``arena[off:off + nbytes]`` is a valid chunk that readers decode as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from tidewell.tsdb.chunkenc import append_open_kernel
from tidewell.tsdb.head.chunks import MAX_BYTES_BEFORE_APPEND, MAX_CHUNK_SAMPLES

__all__ = ["OpenChunks", "split_chunks"]

INT64_MIN = int(np.iinfo(np.int64).min)

ClosedChunk = tuple[int, int, int, bytes]
"""(ref, min time, max time, encoded chunk) of a chunk closed by ``append``."""

_FIELDS: dict[str, tuple[type, int]] = {
    "off": (np.int64, 0),
    "nbits": (np.int32, 0),
    "nbytes": (np.int32, 0),
    "count": (np.int32, 0),
    "mint": (np.int64, 0),
    "maxt": (np.int64, INT64_MIN),
    "tdelta": (np.int64, 0),
    "vbits": (np.uint64, 0),
    "lead": (np.uint8, 0),
    "trail": (np.uint8, 0),
    "next_at": (np.int64, 0),
}
"""Per-ref state arrays: dtype and the value of a ref that never had a chunk."""


class OpenChunks:
    """Open chunks of refs ``0 .. n-1``; see the module docstring.

    ``maxt[ref]`` is the series' in-order frontier: the newest sample in any of
    its in-order chunks, open or closed (INT64_MIN before the first). Samples at
    or before it cannot join the open chunk; the head stores them out of order.
    """

    __slots__ = ("arena", "count", "lead", "maxt", "mint", "nbits", "nbytes", "next_at",
                 "off", "tdelta", "trail", "vbits")

    def __init__(self, cap: int) -> None:
        self.arena = np.zeros(0, dtype=np.uint8)
        for name, (dtype, fill) in _FIELDS.items():
            setattr(self, name, np.full(cap, fill, dtype=dtype))

    def grow(self, cap: int) -> None:
        """Make room for refs below ``cap`` (the head calls this as it grows)."""
        for name, (dtype, fill) in _FIELDS.items():
            old = getattr(self, name)
            new = np.full(cap, fill, dtype=dtype)
            new[: old.shape[0]] = old
            setattr(self, name, new)

    def state(self, n: int) -> dict[str, npt.NDArray[Any]]:
        """The arrays of refs ``0 .. n-1`` and the arena, by name (for snapshots)."""
        out = {name: getattr(self, name)[:n] for name in _FIELDS}
        out["arena"] = self.arena
        return out

    def load(self, state: dict[str, npt.NDArray[Any]]) -> None:
        """Install what ``state`` returned (into enough capacity)."""
        for name in _FIELDS:
            src = state[name]
            getattr(self, name)[: src.shape[0]] = src
        self.arena = np.ascontiguousarray(state["arena"], dtype=np.uint8)

    def chunk(self, ref: int) -> tuple[int, int, bytes] | None:
        """Ref's open chunk as (min time, max time, bytes), or None."""
        if self.count[ref] == 0:
            return None
        o = int(self.off[ref])
        data = self.arena[o : o + int(self.nbytes[ref])].tobytes()
        return int(self.mint[ref]), int(self.maxt[ref]), data

    def num_samples(self) -> int:
        """Samples in all open chunks (their headers' counts)."""
        return int(self.count.sum(dtype=np.int64))

    def append(
        self,
        n: int,
        refs: npt.NDArray[np.int32],
        ts: npt.NDArray[np.int64],
        vals: npt.NDArray[np.float64],
        range_ms: int,
        close: npt.NDArray[np.bool_] | None = None,
    ) -> list[ClosedChunk]:
        """Append samples to the open chunks of refs ``0 .. n-1``; return the chunks closed.

        ``refs`` ascending, each ref's ``ts`` strictly increasing and after its
        ``maxt``. ``close``: refs whose open chunk closes once their samples are in.
        Closed chunks come in ref order, each ref's oldest first.
        """
        m = int(refs.shape[0])
        closing = np.zeros(n, dtype=np.bool_) if close is None else close
        used = int(self.arena.shape[0])
        # Bounds: a sample takes at most 20 bytes (header, 10-byte varint, raw value,
        # or a 68-bit delta-of-delta and 77-bit value); each chunk one padding byte.
        new_arena = np.zeros(used + 20 * m + 4 * n, dtype=np.uint8)
        out = np.empty(used + 24 * m + 4 * n, dtype=np.uint8)
        nrows = m + n
        rows_ref = np.empty(nrows, dtype=np.int32)
        rows_mint = np.empty(nrows, dtype=np.int64)
        rows_maxt = np.empty(nrows, dtype=np.int64)
        rows_off = np.empty(nrows, dtype=np.int64)
        rows_len = np.empty(nrows, dtype=np.int32)
        new_used, rows, out_used = append_open_kernel()(
            self.arena, self.off[:n], self.nbits[:n], self.nbytes[:n], self.count[:n],
            self.mint[:n], self.maxt[:n], self.tdelta[:n], self.vbits[:n], self.lead[:n],
            self.trail[:n], self.next_at[:n],
            refs, ts, np.ascontiguousarray(vals).view(np.uint64), closing,
            range_ms, MAX_CHUNK_SAMPLES, MAX_BYTES_BEFORE_APPEND,
            new_arena, out, rows_ref, rows_mint, rows_maxt, rows_off, rows_len,
        )
        # Shrinking in place reallocates without copying (the array owns its memory).
        new_arena.resize(int(new_used), refcheck=False)
        self.arena = new_arena
        if rows == 0:
            return []
        blob = out[:out_used].tobytes()
        del out
        ends = (rows_off[:rows] + rows_len[:rows]).tolist()
        return [
            (r, lo, hi, blob[o:e])
            for r, lo, hi, o, e in zip(
                rows_ref[:rows].tolist(), rows_mint[:rows].tolist(), rows_maxt[:rows].tolist(),
                rows_off[:rows].tolist(), ends, strict=True,
            )
        ]


def split_chunks(
    ts: npt.NDArray[np.int64], vals: npt.NDArray[np.float64], range_ms: int
) -> list[tuple[int, int, bytes]]:
    """Sorted, distinct samples of one series as the chunks the head would cut from them."""
    scratch = OpenChunks(1)
    refs = np.zeros(ts.shape[0], dtype=np.int32)
    closed = scratch.append(1, refs, ts, vals, range_ms, np.ones(1, dtype=np.bool_))
    return [(lo, hi, data) for _, lo, hi, data in closed]
