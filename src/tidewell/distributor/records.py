"""Builds log records: one or more RW 1.0 ``WriteRequest`` values per partition.

Series are copied as raw byte spans of the incoming request (each span is a
complete top-level ``timeseries`` field), so a record value is the
concatenation of its series' spans; no re-encoding. Records are split so that
none exceeds ``max_record_size`` unless a single series alone does. The cut
points and the copy run compiled, one pass for the whole request.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import numpy.typing as npt

from tidewell.ingest.log import ProduceRequest
from tidewell.util.kernel_bytes import read_only_bytes

__all__ = ["RECORD_VERSION", "build_records"]

RECORD_VERSION = 1


@numba.njit(cache=True, nogil=True)
def _cuts(parts, sizes, limit):  # pragma: no cover - compiled
    """Record boundaries over series sorted by partition: a new record starts on a new
    partition or when adding the next series would pass ``limit`` bytes."""
    n = parts.shape[0]
    out = np.empty(n + 1, dtype=np.int64)
    k = 0
    acc = 0
    for i in range(n):
        if i == 0 or parts[i] != parts[i - 1] or (acc > 0 and acc + sizes[i] > limit):
            out[k] = i
            k += 1
            acc = 0
        acc += sizes[i]
    out[k] = n
    return out[: k + 1]


@numba.njit(cache=True, nogil=True)
def _gather(buf, starts, ends, out):  # pragma: no cover - compiled
    j = 0
    for i in range(starts.shape[0]):
        s = starts[i]
        e = ends[i]
        out[j : j + e - s] = buf[s:e]
        j += e - s


def build_records(
    raw: bytes | npt.NDArray[np.uint8],
    tenant: str,
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    partitions: npt.NDArray[np.int32],
    max_record_size: int,
    extra: Sequence[tuple[int, bytes]] = (),
) -> list[ProduceRequest]:
    """Group spans ``raw[starts[i]:ends[i]]`` by ``partitions[i]`` into records.

    ``extra`` holds already-encoded fields (e.g. metadata) as (partition, bytes);
    they get records of their own. Order of series within a partition is kept.
    """
    key = tenant.encode()
    out: list[ProduceRequest] = []
    if partitions.shape[0]:
        buf = read_only_bytes(raw)
        order = np.argsort(partitions, kind="stable")
        parts = partitions[order]
        s = starts[order]
        e = ends[order]
        sizes = e - s
        cuts = _cuts(parts, sizes, max_record_size)
        data = np.empty(int(sizes.sum()), dtype=np.uint8)
        _gather(buf, s, e, data)
        offsets = np.concatenate(([0], np.cumsum(sizes))).tolist()
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            out.append(ProduceRequest(partition=int(parts[a]), key=key,
                                      value=data[offsets[a] : offsets[b]].tobytes(),
                                      version=RECORD_VERSION))
    by_part: dict[int, list[bytes]] = {}
    for p, chunk in extra:
        by_part.setdefault(p, []).append(chunk)
    for p, chunks in sorted(by_part.items()):
        cur: list[bytes] = []
        size = 0
        for c in chunks:
            if cur and size + len(c) > max_record_size:
                out.append(ProduceRequest(p, key, b"".join(cur), RECORD_VERSION))
                cur, size = [], 0
            cur.append(c)
            size += len(c)
        out.append(ProduceRequest(p, key, b"".join(cur), RECORD_VERSION))
    return out
