"""128-bit label-encoding hash → series ref, for finding known series without their ``Labels``.

A remote-write record repeats every series' labels; building a ``Labels`` and
hashing it for each sample cost a head ~2 µs per sample, more than storing the
sample. Decoders hash each series' label bytes in compiled code
(``SampleBatch.series_keys``); this open-addressing table maps those hashes to
refs with no Python object per entry (20 bytes per slot, at most half full).
A series encoded two ways (labels in another order) simply has two keys.
The table is a cache: a miss falls back to ``Labels``, so clearing it (after
series are removed) only costs one slower pass.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["SeriesKeyTable"]

_EMPTY = -1
MIN_CAPACITY = 1 << 10


@numba.njit(cache=True, nogil=True)
def _lookup(k0, k1, refs, keys, out):  # pragma: no cover - compiled
    mask = np.uint64(k0.shape[0] - 1)
    for i in range(keys.shape[0]):
        a = keys[i, 0]
        b = keys[i, 1]
        slot = a & mask
        while True:
            r = refs[slot]
            if r == _EMPTY:
                out[i] = _EMPTY
                break
            if k0[slot] == a and k1[slot] == b:
                out[i] = r
                break
            slot = (slot + np.uint64(1)) & mask


@numba.njit(cache=True, nogil=True)
def _insert(k0, k1, refs, keys, values):  # pragma: no cover - compiled
    """Insert (or overwrite) each key; returns how many slots were newly used."""
    mask = np.uint64(k0.shape[0] - 1)
    added = 0
    for i in range(keys.shape[0]):
        a = keys[i, 0]
        b = keys[i, 1]
        slot = a & mask
        while True:
            r = refs[slot]
            if r == _EMPTY:
                k0[slot] = a
                k1[slot] = b
                refs[slot] = values[i]
                added += 1
                break
            if k0[slot] == a and k1[slot] == b:
                refs[slot] = values[i]
                break
            slot = (slot + np.uint64(1)) & mask
    return added


class SeriesKeyTable:
    """Open-addressing hash table from ``(uint64, uint64)`` keys to int32 refs."""

    __slots__ = ("_k0", "_k1", "_refs", "count")

    def __init__(self, capacity: int = MIN_CAPACITY) -> None:
        cap = MIN_CAPACITY
        while cap < capacity:
            cap <<= 1
        self._k0 = np.zeros(cap, dtype=np.uint64)
        self._k1 = np.zeros(cap, dtype=np.uint64)
        self._refs = np.full(cap, _EMPTY, dtype=np.int32)
        self.count = 0

    def lookup(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.int32]:
        """Ref of each key (rows of two uint64), -1 where unknown."""
        out = np.empty(keys.shape[0], dtype=np.int32)
        _lookup(self._k0, self._k1, self._refs, keys, out)
        return out

    def insert(self, keys: npt.NDArray[np.uint64], refs: npt.NDArray[np.int32]) -> None:
        if keys.shape[0] == 0:
            return
        if 2 * (self.count + keys.shape[0]) > self._k0.shape[0]:
            self._grow(self.count + keys.shape[0])
        self.count += int(_insert(self._k0, self._k1, self._refs, keys, refs))

    def clear(self) -> None:
        """Forget every key (keeps the smallest capacity: removals are rare)."""
        self.__init__()  # type: ignore[misc]

    def nbytes(self) -> int:
        return int(self._k0.nbytes + self._k1.nbytes + self._refs.nbytes)

    def _grow(self, need: int) -> None:
        used = self._refs != _EMPTY
        keys = np.stack([self._k0[used], self._k1[used]], axis=1)
        refs = self._refs[used]
        self.__init__(4 * need)  # type: ignore[misc]
        self.count = int(_insert(self._k0, self._k1, self._refs, keys, refs))
