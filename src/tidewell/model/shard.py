"""Query shards: the ``__query_shard__="N_of_M"`` selector label and which series it keeps.

The query-frontend splits a shardable query into M queries, each with the
reserved matcher ``__query_shard__="N_of_M"`` (N counted from 1) on its
selectors. Every select path (ingester head and local blocks, store-gateway
blocks) takes that matcher out with :func:`split_shard` before the index sees
it and keeps a series only when its label hash, modulo M, is N-1 — before any
chunk is read. The hash is Prometheus's ``labels.StableHash`` (xxhash64 over
``name 0xff value 0xff`` for every label in name order), the one Mimir's
ingesters and store-gateways shard by, so a series lands in the same shard
wherever it is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

import numpy as np
import numpy.typing as npt
import xxhash

from tidewell.model.errors import TidewellError
from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher, MatchType

__all__ = [
    "SHARD_LABEL",
    "InvalidShardError",
    "SeriesHashes",
    "ShardSelector",
    "split_shard",
    "stable_hash",
]

SHARD_LABEL = "__query_shard__"
_SEP = b"\xff"


class InvalidShardError(TidewellError, ValueError):
    """A ``__query_shard__`` value that is not ``N_of_M`` with ``1 <= N <= M``."""


@lru_cache(maxsize=1 << 16)  # the M selects of one sharded query hash each series once
def stable_hash(labels: Labels) -> int:
    """Prometheus's ``labels.StableHash``: xxhash64 of ``name\\xffvalue\\xff…``."""
    if not labels:
        return xxhash.xxh64_intdigest(b"")
    parts = list(chain.from_iterable(labels))
    # One encode of the joined text, NULs then turned into the 0xff separators (0xff is
    # never in UTF-8), unless a name or value holds a NUL itself.
    text = "\x00".join(parts)
    if text.count("\x00") == len(parts) - 1:
        data = text.encode("utf-8", "surrogateescape").replace(b"\x00", _SEP)
    else:
        data = _SEP.join(s.encode("utf-8", "surrogateescape") for s in parts)
    return xxhash.xxh64_intdigest(data + _SEP)


@dataclass(frozen=True, slots=True)
class ShardSelector:
    """Shard ``index`` (from 0) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, value: str) -> ShardSelector:
        """``"N_of_M"`` (N from 1, as Mimir writes it) into index N-1 of M."""
        parts = value.split("_")
        if len(parts) != 3 or parts[1] != "of" or not parts[0].isdigit() \
                or not parts[2].isdigit():
            raise InvalidShardError(f"invalid shard ID: {value!r}")
        n, m = int(parts[0]), int(parts[2])
        if n == 0 or m == 0 or n > m:
            raise InvalidShardError(f"invalid shard ID: {value!r}")
        return cls(n - 1, m)

    def label_value(self) -> str:
        return f"{self.index + 1}_of_{self.count}"

    def matcher(self) -> Matcher:
        return Matcher(MatchType.EQUAL, SHARD_LABEL, self.label_value())

    def owns(self, labels: Labels) -> bool:
        return stable_hash(labels) % self.count == self.index

    def split(self, k: int) -> list[ShardSelector]:
        """``k`` shards that together hold exactly this one's series: index ``i + M*j`` of
        ``M*k`` keeps ``hash % (M*k) == i + M*j``, hence ``hash % M == i``."""
        return [ShardSelector(self.index + self.count * j, self.count * k) for j in range(k)]

    def keep(self, labels: Iterable[Labels]) -> list[bool]:
        """For each label set, whether it belongs to this shard."""
        return [stable_hash(lb) % self.count == self.index for lb in labels]


class SeriesHashes:
    """``stable_hash`` of series numbered densely from 0 (a head's refs), each computed once,
    as Mimir keeps ``shardHash`` beside every head series. Not thread-safe: the caller
    holds the owner's lock."""

    def __init__(self) -> None:
        self._hashes = np.zeros(0, dtype=np.uint64)
        self._known = np.zeros(0, dtype=bool)

    def keep(self, shard: ShardSelector, ids: npt.NDArray[np.integer],
             labels_of: Callable[[int], Labels]) -> npt.NDArray[np.bool_]:
        """For each ID, whether its series (labels from ``labels_of``) is in ``shard``."""
        if len(ids) == 0:
            return np.zeros(0, dtype=bool)
        top = int(ids.max()) + 1
        if top > len(self._hashes):
            size = max(top, 2 * len(self._hashes))
            self._hashes = np.concatenate([self._hashes, np.zeros(size - len(self._hashes),
                                                                  dtype=np.uint64)])
            self._known = np.concatenate([self._known, np.zeros(size - len(self._known),
                                                                dtype=bool)])
        for i in ids[~self._known[ids]].tolist():
            self._hashes[i] = stable_hash.__wrapped__(labels_of(i))
            self._known[i] = True
        return self._hashes[ids] % np.uint64(shard.count) == np.uint64(shard.index)


def split_shard(matchers: Sequence[Matcher]) -> tuple[ShardSelector | None, list[Matcher]]:
    """The shard an equality matcher on ``__query_shard__`` asks for, and the other matchers.

    Raises :class:`InvalidShardError` for a malformed value (the select fails, as in Mimir).
    """
    for i, m in enumerate(matchers):
        if m.name == SHARD_LABEL and m.type is MatchType.EQUAL:
            return ShardSelector.parse(m.value), [*matchers[:i], *matchers[i + 1:]]
    return None, list(matchers)
