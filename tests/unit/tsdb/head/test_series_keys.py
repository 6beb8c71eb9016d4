"""The label-hash → ref table: exact answers through growth, overwrite and clear."""

from __future__ import annotations

import numpy as np

from tidewell.tsdb.head.series_keys import SeriesKeyTable


def test_lookup_after_many_inserts_and_growth() -> None:
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 2**63, size=(50_000, 2), dtype=np.uint64)
    table = SeriesKeyTable()
    for i in range(0, 50_000, 999):
        table.insert(keys[i : i + 999], np.arange(i, min(i + 999, 50_000), dtype=np.int32))
    assert table.count == 50_000
    assert np.array_equal(table.lookup(keys), np.arange(50_000, dtype=np.int32))
    unknown = rng.integers(0, 2**63, size=(1000, 2), dtype=np.uint64)
    assert (table.lookup(unknown) == -1).all()


def test_keys_sharing_the_first_half_are_told_apart() -> None:
    keys = np.array([[5, 1], [5, 2], [5 + 1024, 1]], dtype=np.uint64)  # same slot, same hi word
    table = SeriesKeyTable()
    table.insert(keys[:2], np.array([10, 20], dtype=np.int32))
    assert table.lookup(keys).tolist() == [10, 20, -1]
    table.insert(keys[:1], np.array([30], dtype=np.int32))  # overwrite
    assert table.lookup(keys).tolist() == [30, 20, -1] and table.count == 2
    table.clear()
    assert table.lookup(keys).tolist() == [-1, -1, -1] and table.count == 0
