"""Resolving series by the decoder's label-bytes hashes gives the refs the labels would."""

from __future__ import annotations

import numpy as np

from tidewell.model import Labels, SampleBatch
from tidewell.protocol import decode_write_request, encode_write_request
from tidewell.tsdb.head import Head


def _request(label_sets: list[Labels], t: int) -> bytes:
    n = len(label_sets)
    return encode_write_request(SampleBatch(
        label_sets, np.arange(n, dtype=np.int32), np.full(n, t, dtype=np.int64),
        np.arange(n, dtype=np.float64)))


def _sets(n: int) -> list[Labels]:
    return [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(n)]


def test_keyed_batches_find_series_created_without_keys_and_vice_versa() -> None:
    head = Head()
    sets = _sets(100)
    plain = SampleBatch(sets[:50], np.arange(50, dtype=np.int32), np.full(50, 1000),
                        np.zeros(50))
    head.append(plain)  # no keys: created through Labels
    keyed = decode_write_request(_request(sets, 2000))
    assert keyed.series_keys is not None
    res = head.append(keyed)
    assert res.series_created == 50 and res.accepted == 100
    assert [head.get_ref(ls) for ls in sets] == list(range(100))
    assert head.series_keys.count == 100
    again = head.append(decode_write_request(_request(sets[::-1], 3000)))
    assert again.series_created == 0 and again.accepted == 100
    assert head.last_ts[:100].tolist() == [3000] * 100


def test_resolve_then_append_resolved_equals_append() -> None:
    sets = _sets(30)
    a, b = Head(), Head()
    for t in (1000, 2000, 2000, 1500):  # includes a duplicate and an out-of-order sample
        a.append(decode_write_request(_request(sets, t)))
        refs, ts, vals, res = b.resolve(decode_write_request(_request(sets, t)))
        b.append_resolved(refs, ts, vals, result=res)
    got_a = [(ls, ts.tolist(), vs.tolist()) for ls, ts, vs in a.iter_series()]
    got_b = [(ls, ts.tolist(), vs.tolist()) for ls, ts, vs in b.iter_series()]
    assert got_a == got_b and len(got_a) == 30
    assert got_a[0][1] == [1000, 2000]  # 1500 refused: out of order


def test_series_limit_drops_samples_of_refused_series_at_resolve() -> None:
    head = Head()
    refs, ts, _vals, res = head.resolve(decode_write_request(_request(_sets(10), 1000)),
                                        max_series=4)
    assert refs.tolist() == [0, 1, 2, 3] and ts.shape == (4,)
    assert res.series_created == 4 and res.rejected_total == 6


def test_truncation_forgets_keys_of_removed_series() -> None:
    head = Head()
    sets = _sets(5)
    head.append(decode_write_request(_request(sets, 1000)))
    assert head.series_keys.count == 5
    head.truncate(7_200_000)
    assert head.active_series == 0 and head.series_keys.count == 0
    res = head.append(decode_write_request(_request(sets, 7_300_000)))
    assert res.series_created == 5 and res.accepted == 5
