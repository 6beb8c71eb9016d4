"""XOR chunk codec: round trips, bit-exact values, and agreement of both backends."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidewell.model.samples import STALE_NAN_BITS
from tidewell.tsdb.chunkenc import (
    CorruptBlockError,
    CorruptChunkError,
    backend,
    chunk_num_samples,
    decode_xor,
    decode_xor_many,
    encode_xor,
    encode_xor_many,
    xor_python,
)
from tidewell.tsdb.chunkenc.by_series import decode_by_series

STALE = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]
SPECIAL = [float("nan"), STALE, float("inf"), float("-inf"), 0.0, -0.0, 5e-324, 1.8e308 / 1.0001]


def _bits(v: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(v, dtype=np.float64).view(np.uint64)


@st.composite
def series(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(0, 150))
    start = draw(st.integers(-(2**50), 2**50))
    gap_kind = st.one_of(
        st.just(15_000),
        st.integers(1, 30_000),
        st.integers(1, 2**40),  # large gaps: 64-bit delta-of-delta bucket
    )
    gaps = draw(st.lists(gap_kind, min_size=n, max_size=n))
    ts = start + np.cumsum(np.array(gaps, dtype=np.int64)) if n else np.empty(0, np.int64)
    value = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(SPECIAL),
        st.integers(-1000, 1000).map(float),
    )
    repeat = draw(st.booleans())
    vals = draw(st.lists(value, min_size=n, max_size=n))
    if repeat and n:
        vals = [vals[0]] * n  # equal values: 1-bit XOR case
    vs = np.array(vals, dtype=np.float64)
    # Inject the stale marker bit pattern at a random place.
    if n and draw(st.booleans()):
        vs[draw(st.integers(0, n - 1))] = STALE
    return ts.astype(np.int64), vs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series())
def test_roundtrip_is_bit_exact(data: tuple[np.ndarray, np.ndarray]) -> None:
    ts, vs = data
    chunk = encode_xor(ts, vs)
    assert chunk_num_samples(chunk) == len(ts)
    got_t, got_v = decode_xor(chunk)
    assert np.array_equal(got_t, ts)
    assert np.array_equal(_bits(got_v), _bits(vs))  # NaN payloads survive


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series())
def test_python_and_numba_backends_write_identical_bytes(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    ts, vs = data
    chunk = encode_xor(ts, vs)
    assert xor_python.encode(ts.tolist(), _bits(vs).tolist()) == chunk
    pt, pv = xor_python.decode(chunk)
    assert pt == ts.tolist() and pv == _bits(vs).tolist()


def test_numba_backend_is_active() -> None:
    assert backend() == "numba"


def test_known_bytes_for_simple_chunk() -> None:
    # Worked by hand from the format: count=2, t0=1 (zigzag 2), v0=1.0,
    # t1-t0=1 (uvarint 1), v1 equal -> one 0 bit, padded.
    chunk = encode_xor([1, 2], [1.0, 1.0])
    assert chunk == bytes([0, 2, 2]) + struct.pack(">d", 1.0) + bytes([1, 0])


def test_negative_timestamps_and_stale_marker() -> None:
    ts = np.array([-5_000, -1, 0, 7, 2**40], dtype=np.int64)
    vs = np.array([STALE, 1.0, float("inf"), float("-inf"), float("nan")])
    got_t, got_v = decode_xor(encode_xor(ts, vs))
    assert got_t.tolist() == ts.tolist()
    assert _bits(got_v)[0] == STALE_NAN_BITS
    assert np.array_equal(_bits(got_v), _bits(vs))


@pytest.mark.parametrize("cut", [1, 3, 10, 20])
def test_truncated_chunk_raises(cut: int) -> None:
    ts = np.arange(120, dtype=np.int64) * 15_000
    vs = np.random.default_rng(0).normal(size=120)
    chunk = encode_xor(ts, vs)
    with pytest.raises(CorruptChunkError) as err:
        decode_xor(chunk[: len(chunk) - cut] if cut < len(chunk) else chunk[:1])
    assert isinstance(err.value, CorruptBlockError)
    with pytest.raises(CorruptChunkError):
        xor_python.decode(chunk[: len(chunk) - cut])


def test_decode_many_concatenates_and_reports_bad_chunk() -> None:
    rng = np.random.default_rng(3)
    parts = []
    for k in range(5):
        ts = np.arange(k * 120, (k + 1) * 120, dtype=np.int64) * 1000
        parts.append((ts, rng.normal(size=120)))
    chunks = [encode_xor(t, v) for t, v in parts]
    buf = b"".join(chunks)
    lens = np.array([len(c) for c in chunks])
    ends = np.cumsum(lens)
    starts = ends - lens
    t, v, bad = decode_xor_many(buf, starts, ends)
    assert bad == -1
    assert np.array_equal(t, np.concatenate([p[0] for p in parts]))
    assert np.array_equal(v, np.concatenate([p[1] for p in parts]))
    ends2 = ends.copy()
    ends2[2] -= 5  # truncate the third chunk
    assert decode_xor_many(buf, starts, ends2)[2] == 2


def test_rejects_mismatched_or_oversized_input() -> None:
    with pytest.raises(ValueError):
        encode_xor([1, 2], [1.0])
    with pytest.raises(ValueError):
        encode_xor(np.arange(70_000), np.zeros(70_000))


def test_kernels_compile_without_any_writable_cache_location() -> None:
    """When Numba finds no writable cache directory the codec still works (in memory)."""
    import subprocess
    import sys

    code = (
        "import numba.core.caching as c\n"
        "c.CacheImpl._locator_classes = []\n"  # as if nothing were writable
        "from tidewell.tsdb.chunkenc import encode_xor, backend\n"
        "print(encode_xor([1, 2, 4], [1.0, 2.0, 3.0]).hex())\n"  # compiles the encoder only
        "assert backend() == 'numba'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    want = xor_python.encode([1, 2, 4], _bits(np.array([1.0, 2.0, 3.0])).tolist())
    assert proc.stdout.strip() == want.hex()
    assert "numba cache unavailable" in proc.stderr


def test_encode_many_writes_encode_xor_bytes_back_to_back() -> None:
    rng = np.random.default_rng(7)
    ts = np.cumsum(rng.integers(1, 30_000, 1000)).astype(np.int64)
    vs = rng.normal(size=1000)
    vs[::97] = STALE
    starts = np.array([0, 120, 120, 500, 620], dtype=np.int64)
    ends = np.array([120, 120, 500, 620, 1000], dtype=np.int64)
    want = [encode_xor(ts[s:e], vs[s:e]) for s, e in zip(starts, ends, strict=True)]
    data, chunk_ends = encode_xor_many(ts, vs, starts, ends)
    assert data == b"".join(want)
    assert chunk_ends.tolist() == np.cumsum([len(c) for c in want]).tolist()


def test_python_backend_chosen_by_environment_gives_the_same_results() -> None:
    """``TIDEWELL_CHUNKENC=python`` (the fallback without Numba): same bytes, same samples."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from tidewell.tsdb.chunkenc import backend, decode_xor_many, encode_xor_many\n"
        "from tidewell.tsdb.chunkenc.by_series import decode_by_series\n"
        "assert backend() == 'python'\n"
        "rng = np.random.default_rng(7)\n"
        "ts = np.cumsum(rng.integers(1, 30_000, 1000)).astype(np.int64)\n"
        "vs = rng.normal(size=1000)\n"
        "starts = np.array([0, 120, 120, 500, 620]); ends = np.array([120, 120, 500, 620, 1000])\n"
        "data, chunk_ends = encode_xor_many(ts, vs, starts, ends)\n"
        "cs = np.concatenate([[0], chunk_ends[:-1]])\n"
        "t, v, bad = decode_xor_many(data, cs, chunk_ends)\n"
        "assert bad == -1 and (t == ts).all() and (v == vs).all()\n"
        "buf = np.frombuffer(data, np.uint8)\n"
        "owner = np.array([0, 0, 1, 1, 2])\n"
        "t, v, counts, bad = decode_by_series(buf, owner, cs, chunk_ends, 3, int(ts[100]), "
        "int(ts[700]))\n"
        "print(data.hex(), counts.tolist(), bad, t[0], t[-1])\n"
    )
    env = {**os.environ, "TIDEWELL_CHUNKENC": "python"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    rng = np.random.default_rng(7)
    ts = np.cumsum(rng.integers(1, 30_000, 1000)).astype(np.int64)
    vs = rng.normal(size=1000)
    starts = np.array([0, 120, 120, 500, 620])
    ends = np.array([120, 120, 500, 620, 1000])
    data, chunk_ends = encode_xor_many(ts, vs, starts, ends)
    cs = np.concatenate([[0], chunk_ends[:-1]])
    t, _v, counts, bad = decode_by_series(np.frombuffer(data, np.uint8), np.array([0, 0, 1, 1, 2]),
                                          cs, chunk_ends, 3, int(ts[100]), int(ts[700]))
    assert counts.tolist() == [20, 500, 81]
    assert proc.stdout.split() == [data.hex(), *str(counts.tolist()).split(), str(bad),
                                   str(t[0]), str(t[-1])]


def _edge_series(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every dod bucket at and beyond its edges (both signs), and values whose XOR
    windows are 1-64 bits wide: reused, narrowed, widened, the full 64 bits."""
    edges = np.array([0, 1, -1, 8191, -8191, 8192, -8192, 65535, -65535, 65536, -65536,
                      524287, -524287, 524288, -524288, 2**40, -(2**35)], dtype=np.int64)
    dod = np.where(rng.random(n) < 0.5, 0, rng.choice(edges, n))
    gaps = np.maximum(15_000 + np.cumsum(dod), 1)
    ts = rng.integers(-(2**45), 2**45) + np.cumsum(gaps)
    bits = rng.integers(0, 2**63, n, dtype=np.uint64) << rng.integers(0, 2, n).astype(np.uint64)
    kind = rng.integers(0, 5, n)
    base = rng.integers(0, 2**63, dtype=np.uint64)
    narrow = base ^ (rng.integers(1, 2**20, n).astype(np.uint64) << np.uint64(20))
    vb = np.where(kind == 0, bits, np.where(kind == 1, base, narrow))
    vb = np.where(kind == 4, ~vb, vb)  # sign flips: 64-bit windows
    return ts.astype(np.int64), vb.view(np.float64)


@pytest.mark.parametrize("seed", range(6))
def test_word_wise_codec_matches_the_reference_on_edge_cases(seed: int) -> None:
    """The compiled codec reads and writes 64-bit words; the Python reference works on
    whole-stream integers: the bytes and the decoded samples must agree exactly,
    also for chunks that end in the last bytes of the buffer."""
    rng = np.random.default_rng(seed)
    parts = [_edge_series(rng, int(m)) for m in rng.integers(1, 300, 8)]
    chunks = [encode_xor(t, v) for t, v in parts]
    for (t, v), c in zip(parts, chunks, strict=True):
        assert xor_python.encode(t.tolist(), _bits(v).tolist()) == c
    buf = b"".join(chunks)
    ends = np.cumsum([len(c) for c in chunks])
    got_t, got_v, bad = decode_xor_many(buf, ends - [len(c) for c in chunks], ends)
    assert bad == -1
    assert np.array_equal(got_t, np.concatenate([p[0] for p in parts]))
    assert np.array_equal(_bits(got_v), np.concatenate([_bits(p[1]) for p in parts]))
    # Every truncation fails in both codecs (the last chunk ends the buffer: tail paths).
    last = chunks[-1]
    for cut in range(1, len(last) - 1):
        with pytest.raises(CorruptChunkError):
            decode_xor(last[:cut])
        with pytest.raises(CorruptChunkError):
            xor_python.decode(last[:cut])
