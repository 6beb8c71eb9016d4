"""Open chunks: XOR-encoded as samples come, closed by Prometheus's rule, seen by every reader."""

from __future__ import annotations

import io
import json
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.ingester import make_batch as batch
from tests.unit.tsdb.head.test_chunk_cutting import prometheus_chunks
from tidewell.model import Labels, SampleBatch, stale_nan
from tidewell.tsdb.chunkenc import encode_xor
from tidewell.tsdb.head import Head, HeadQuerier, Reason
from tidewell.tsdb.head.chunks import chunk_samples, decode_chunk
from tidewell.tsdb.head.compact import block_series
from tidewell.tsdb.head.open_chunks import OpenChunks
from tidewell.tsdb.head.snapshot import load_head, save_head

ALL = (-(2**62), 2**62)
R = 7_200_000

_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.0, stale_nan(), 1e300]),
    st.integers(-1000, 1000).map(float),
)
_deltas = st.one_of(
    st.integers(1, 20),
    st.integers(14_990, 15_010),
    st.integers(1, 1 << 22),  # every delta-of-delta bucket, up to the 64-bit one
    st.integers(1, 1 << 40),
)


@st.composite
def _runs(draw: st.DrawFn, max_len: int, lowest: int) -> tuple[list[int], list[float], list[int]]:
    """Strictly increasing timestamps from ``lowest`` on, any values, and split points."""
    n = draw(st.integers(1, max_len))
    t = draw(st.integers(lowest, 1 << 41))
    ts = []
    for _ in range(n):
        ts.append(t)
        t += draw(_deltas)
    vals = [draw(_values) for _ in range(n)]
    cuts = sorted(set(draw(st.lists(st.integers(1, n), max_size=6))))
    return ts, vals, cuts


def _append_in_pieces(oc: OpenChunks, runs: list[tuple[list[int], list[float], list[int]]],
                      range_ms: int) -> list[tuple[int, int, int, bytes]]:
    """Append each ref's run split at its cut points, all refs together per round."""
    closed = []
    pieces = [list(zip([0, *cuts], [*cuts, len(ts)], strict=True)) for ts, _, cuts in runs]
    for k in range(max(len(p) for p in pieces)):
        r, t, v = [], [], []
        for ref, (ts, vals, _) in enumerate(runs):
            if k < len(pieces[ref]):
                a, b = pieces[ref][k]
                r += [ref] * (b - a)
                t += ts[a:b]
                v += vals[a:b]
        closed += oc.append(len(runs), np.array(r, dtype=np.int32), np.array(t, dtype=np.int64),
                            np.array(v, dtype=np.float64), range_ms)
    return closed


def _bits(vals: list[float]) -> list[int]:
    return np.array(vals, dtype=np.float64).view(np.uint64).tolist()


@settings(max_examples=150, deadline=None)
@given(st.lists(_runs(30, 0), min_size=1, max_size=3))
def test_appending_in_pieces_gives_the_bytes_of_encoding_the_whole_run(runs: list) -> None:
    # At most 30 samples within one huge range: no chunk closes, so each open chunk
    # must be exactly encode_xor of its whole run, whatever the pieces were.
    oc = OpenChunks(len(runs))
    assert _append_in_pieces(oc, runs, 1 << 47) == []
    for ref, (ts, vals, _) in enumerate(runs):
        chunk = oc.chunk(ref)
        assert chunk is not None
        assert chunk[2] == encode_xor(np.array(ts, dtype=np.int64), np.array(vals))
        assert (chunk[0], chunk[1]) == (ts[0], ts[-1])
    assert oc.arena.nbytes == sum(int(x) for x in oc.nbytes[: len(runs)])


@settings(max_examples=60, deadline=None)
@given(st.lists(_runs(400, -(1 << 41)), min_size=1, max_size=3),
       st.sampled_from([3_600_000, 1 << 20]))
def test_chunks_closed_in_pieces_follow_the_sample_by_sample_rule(runs: list, rng: int) -> None:
    oc = OpenChunks(len(runs))
    closed = _append_in_pieces(oc, runs, rng)
    for ref, (ts, vals, _) in enumerate(runs):
        chunks = [(lo, hi, data) for r, lo, hi, data in closed if r == ref]
        current = oc.chunk(ref)
        assert current is not None  # the newest sample always stays in an open chunk
        chunks.append(current)
        times = []
        for lo, hi, data in chunks:
            ct, cv = decode_chunk(data)
            assert data == encode_xor(ct, cv)  # byte-exact, padding byte included
            assert (lo, hi) == (ct[0], ct[-1])
            times.append(ct.tolist())
        assert times == prometheus_chunks(ts, vals, rng)
        got_v = np.concatenate([decode_chunk(c[2])[1] for c in chunks])
        assert got_v.view(np.uint64).tolist() == _bits(vals)


def _series_times(kind: str, rng: random.Random) -> list[int]:
    start = rng.randrange(0, R)
    if kind == "regular":
        return [start + i * 15_000 for i in range(1200)]
    if kind == "jittered":
        return [start + i * 15_000 + rng.randint(-3, 3) for i in range(1200)]
    if kind == "sparse":  # one sample every few minutes, with long gaps
        out, t = [], start
        for _ in range(150):
            t += rng.choice([60_000, 300_000, 900_000, 3 * R])
            out.append(t)
        return out
    # range-crossing: a fast series from just before a range boundary
    return [R - 10_000 + i * 1_000 for i in range(1500)]


@pytest.mark.parametrize("noisy", [False, True])
def test_many_series_appended_by_scrape_get_prometheus_chunks(noisy: bool) -> None:
    """Regular, jittered, sparse and range-crossing series, appended together in batches."""
    rng = random.Random(11 + noisy)
    kinds = ["regular", "jittered", "sparse", "crossing"]
    series = [Labels.from_dict({"__name__": "m", "kind": k}) for k in kinds]
    times = [_series_times(k, rng) for k in kinds]
    vals = [[rng.random() * 1e6 if noisy else float(i // 5) for i in range(len(t))] for t in times]
    samples = sorted(
        (t, i, v) for i in range(len(kinds)) for t, v in zip(times[i], vals[i], strict=True)
    )
    head = Head(R)
    for k in range(0, len(samples), 97):
        chunk = samples[k : k + 97]
        res = head.append(batch([(series[i], t, v) for t, i, v in chunk]))
        assert res.rejected_total == 0, res.first_error
        if k % 5 == 0:
            head.cut_chunks()
    before = {s.labels: s.timestamps.tolist() for s in HeadQuerier(head, *ALL).select([])}
    head.cut_chunks(everything=True)
    assert int(head.open.count[: head.num_series].sum()) == 0
    for i, ls in enumerate(series):
        ref = head.get_ref(ls)
        got = [decode_chunk(c[2])[0].tolist() for c in head.chunks[ref]]
        assert got == prometheus_chunks(times[i], vals[i], R), kinds[i]
        assert before[ls] == times[i]
    if noisy:
        assert any(chunk_samples(c[2]) < 100 for c in head.chunks[head.get_ref(series[0])])


A = Labels.from_dict({"__name__": "up", "job": "a"})
B = Labels.from_dict({"__name__": "up", "job": "b"})


def _dump(head: Head) -> dict[Labels, list[tuple[int, float]]]:
    return {
        s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
        for s in HeadQuerier(head, *ALL).select([])
    }


def _head_with_open_chunks() -> Head:
    head = Head(R)
    head.append(batch([(A, t, float(t)) for t in range(0, 50_000, 1_000)]))
    head.append(batch([(B, t, 2.0) for t in range(0, 10_000, 1_000)]))
    head.cut_chunks()
    return head


def test_reads_and_duplicate_checks_see_open_chunk_samples() -> None:
    head = _head_with_open_chunks()
    ref = head.get_ref(A)
    assert head.staging.count == 0 and int(head.open.count[ref]) == 50
    assert not head.chunks[ref]  # everything of A is in its open chunk
    assert _dump(head)[A] == [(t, float(t)) for t in range(0, 50_000, 1_000)]
    assert head.num_samples() == 60
    assert [ls for ls, _, _ in head.iter_series(20_000, 30_000)] == [A]
    # Same sample again: a duplicate; another value at a stored time: refused.
    res = head.append(batch([(A, 20_000, 20_000.0), (A, 30_000, 1.0), (A, 49_000, 49_000.0)]),
                      ooo_window_ms=60_000)
    assert (res.accepted, res.duplicates, res.rejected) == (
        0, 2, {Reason.DUPLICATE_TIMESTAMP: 1})
    # A new out-of-order sample (within the window) goes to its own chunk.
    res = head.append(batch([(A, 20_500, -1.0), (A, 60_000, 60.0)]), ooo_window_ms=60_000)
    assert res.accepted == 2
    head.cut_chunks()
    assert [(c[0], c[1]) for c in head.chunks[ref]] == [(20_500, 20_500)]
    assert int(head.open.count[ref]) == 51
    got = _dump(head)[A]
    assert (20_500, -1.0) in got and got[-1] == (60_000, 60.0) and len(got) == 52


def test_snapshot_round_trip_keeps_open_chunks_and_later_appends_agree() -> None:
    head = _head_with_open_chunks()
    head.append(batch([(A, 70_000, 1.0)]))  # staged, not cut
    buf = io.BytesIO()
    save_head(head, buf)
    buf.seek(0)
    got = load_head(buf)
    n = head.num_series
    for name, arr in head.open.state(n).items():
        assert np.array_equal(got.open.state(n)[name], arr), name
    assert got.chunks == head.chunks and got.staging.count == head.staging.count == 1
    assert _dump(got) == _dump(head)
    # The restored head continues exactly as the one that never stopped.
    for h in (head, got):
        for t in range(80_000, 400_000, 1_000):
            h.append(batch([(A, t, t / 7), (B, t, 1.0)]))
        h.cut_chunks()
    assert got.chunks == head.chunks
    assert got.open.arena.tobytes() == head.open.arena.tobytes()


def test_version_2_snapshot_loads_with_its_staged_samples() -> None:
    head = _head_with_open_chunks()
    head.cut_chunks(everything=True)
    head.append(batch([(A, 60_000, 6.0), (A, 61_000, 7.0)]))
    want = _dump(head)
    buf = io.BytesIO()
    save_head(head, buf)
    buf.seek(0)
    # Rewrite it as the previous format wrote it: no open chunks, cut_maxt instead.
    with np.load(buf) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("open_")}
        arrays["cut_maxt"] = z["open_maxt"]
    meta = json.loads(arrays["meta"].tobytes())
    meta["version"] = 2
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    old = io.BytesIO()
    np.savez(old, **arrays)
    old.seek(0)
    got = load_head(old)
    assert got.staging.count == 2 and _dump(got) == want
    res = got.append(batch([(A, 49_500, 1.0)]))  # before the frontier: still refused
    assert res.rejected == {Reason.OUT_OF_ORDER: 1}
    got.cut_chunks()
    assert int(got.open.count[got.get_ref(A)]) == 2 and _dump(got) == want


def test_truncate_closes_and_drops_open_chunks_before_the_cut() -> None:
    r = 100_000
    head = Head(r)
    head.append(batch([(B, 5_000, 1.0)]))  # first: later it would be out of bounds
    head.append(SampleBatch([A], np.zeros(150, dtype=np.int32),
                            np.arange(150, dtype=np.int64) * 1_000, np.ones(150)))
    head.cut_chunks()
    ra, rb = head.get_ref(A), head.get_ref(B)
    assert int(head.open.count[rb]) == 1 and int(head.open.count[ra]) == 50
    assert head.truncate(r) == 1  # B had only an open chunk, before the cut
    assert head.get_ref(B) is None and int(head.open.count[rb]) == 0
    assert int(head.open.count[ra]) == 50 and not head.chunks[ra]
    assert _dump(head) == {A: [(t, 1.0) for t in range(100_000, 150_000, 1_000)]}
    assert head.first_ts[ra] == 100_000 and head.min_time == 100_000
    assert head.num_samples() == 50


def test_block_of_a_range_reuses_the_open_chunk_bytes() -> None:
    head = Head(R)
    ts = np.arange(0, 100, dtype=np.int64) * 15_000
    head.append(SampleBatch([A], np.zeros(100, dtype=np.int32), ts, np.ones(100)))
    head.cut_chunks()
    (labels, chunks), = list(block_series(head, 0, R))
    assert labels == A and len(chunks) == 1
    assert chunks[0][2] == encode_xor(ts, np.ones(100)) == head.open.chunk(head.get_ref(A))[2]
