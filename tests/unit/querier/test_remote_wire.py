"""The internal read protocol's codec and the client's retry rules, without a network."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidewell.model import Labels, Matcher, MatchType, Series, stale_nan
from tidewell.protocol.pb import internal_pb2 as pb
from tidewell.querier.remote import (
    RemoteQueryable,
    RemoteQueryCancelledError,
    RemoteQueryError,
    RemoteQueryTimeoutError,
)
from tidewell.querier.wire import (
    RAW,
    XOR_CHUNKS,
    CorruptResponseError,
    decode_matchers,
    decode_series,
    encode_matchers,
    encode_select_response,
    encode_series,
)
from tidewell.tsdb.chunkenc import encode_xor


def make_series() -> list[Series]:
    rng = np.random.default_rng(3)
    long_ts = np.arange(70_000, dtype=np.int64) * 15_000  # more than one XOR chunk holds
    special = np.array([1.5, np.nan, stale_nan(), np.inf, -np.inf, -0.0, 5e-324])
    return [
        Series(Labels(), np.array([-5, 0, 7], dtype=np.int64), np.array([1.0, 2.0, 3.0])),
        Series(Labels.from_dict({"__name__": "a", "x": "ü\x00✓"}),
               np.arange(7, dtype=np.int64) * 1000 + 1_700_000_000_000, special),
        Series(Labels.from_dict({"__name__": "long", "job": "x"}), long_ts,
               rng.normal(size=long_ts.shape[0])),
        Series(Labels.from_dict({"__name__": "empty", "job": "x"}),
               np.empty(0, np.int64), np.empty(0, np.float64)),
    ]


@pytest.mark.parametrize("encoding", [RAW, XOR_CHUNKS])
def test_series_round_trip_bit_exact(encoding: int) -> None:
    want = make_series()
    wire = encode_series(want, encoding).SerializeToString()
    got = decode_series(pb.SeriesSet.FromString(wire))
    assert [s.labels for s in got] == [s.labels for s in want]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.timestamps, w.timestamps)
        np.testing.assert_array_equal(g.values.view(np.uint64), w.values.view(np.uint64))
    assert decode_series(pb.SeriesSet.FromString(encode_series([], encoding)
                                                 .SerializeToString())) == []


@pytest.mark.parametrize("encoding", [RAW, XOR_CHUNKS])
@pytest.mark.parametrize("truncated", [False, True])
def test_fast_select_response_is_exactly_protobufs_serialization(encoding, truncated) -> None:
    series = make_series()
    fast = encode_select_response(series, encoding, truncated)
    slow = pb.SelectResponse(series=encode_series(series, encoding), truncated=truncated)
    assert fast == slow.SerializeToString()
    assert encode_select_response([], encoding) == pb.SelectResponse(
        series=encode_series([], encoding)).SerializeToString()
    blocks = ["01HZX8ZQ3M5N2B7C4D6E8F0G1H", "01HZX8ZQ3M5N2B7C4D6E8F0G2J"]
    with_blocks = pb.SelectResponse(series=encode_series(series, encoding), truncated=truncated,
                                    queried_blocks=blocks)
    assert encode_select_response(series, encoding, truncated, blocks) == (
        with_blocks.SerializeToString())


def test_batch_xor_chunks_are_chunkencs_bytes() -> None:
    series = make_series()
    long = series[2]
    want = [encode_xor(s.timestamps, s.values) for s in series if s is not long]
    want[2:2] = [encode_xor(long.timestamps[:65535], long.values[:65535]),
                 encode_xor(long.timestamps[65535:], long.values[65535:])]
    msg = encode_series(series, XOR_CHUNKS)
    assert msg.chunks == b"".join(want)
    assert np.frombuffer(msg.chunk_ends, "<i8").tolist() == np.cumsum(
        [len(c) for c in want]).tolist()


def test_xor_is_smaller_than_raw_on_scraped_data() -> None:
    ts = 1_700_000_000_000 + np.arange(240, dtype=np.int64) * 15_000
    series = [Series(Labels.from_dict({"i": str(i)}), ts, np.cumsum(np.ones(240)) * i)
              for i in range(100)]
    raw = encode_series(series, RAW).ByteSize()
    xor = encode_series(series, XOR_CHUNKS).ByteSize()
    assert xor * 5 < raw


def test_corrupt_sets_are_refused() -> None:
    good = encode_series(make_series()[:2], XOR_CHUNKS)
    for mutate in (
        lambda m: setattr(m, "label_refs", m.label_refs[:-4]),
        lambda m: setattr(m, "sample_counts", m.sample_counts[:-1]),
        lambda m: setattr(m, "chunks", m.chunks[:-3]),
        lambda m: m.symbols.pop(),
    ):
        msg = pb.SeriesSet()
        msg.CopyFrom(good)
        mutate(msg)
        with pytest.raises(CorruptResponseError):
            decode_series(msg)
    raw = encode_series(make_series()[:2], RAW)
    raw.values = raw.values[:-8]
    with pytest.raises(CorruptResponseError):
        decode_series(raw)


def test_matchers_round_trip() -> None:
    ms = [Matcher(t, "n", "v.*") for t in MatchType]
    req = pb.ReadRequest()
    encode_matchers(ms, req)
    assert decode_matchers(pb.ReadRequest.FromString(req.SerializeToString())) == ms


def _remote(handler, **kw) -> tuple[RemoteQueryable, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(len(seen))

    client = httpx.Client(transport=httpx.MockTransport(record))
    return RemoteQueryable("http://replica:8080/", client=client, backoff_s=0.001, **kw), seen


def _labels(values: list[str]) -> httpx.Response:
    return httpx.Response(200, content=pb.LabelsResponse(values=values).SerializeToString())


def test_5xx_and_connection_errors_are_retried_then_surface() -> None:
    def flaky(n: int) -> httpx.Response:
        if n == 1:
            raise httpx.ConnectError("refused")
        return httpx.Response(503) if n == 2 else _labels(["a", "b"])

    remote, seen = _remote(flaky, retries=2)
    assert remote.querier("t", 0, 1).label_names() == ["a", "b"]
    assert len(seen) == 3
    assert seen[0].headers["x-scope-orgid"] == "t"
    assert seen[0].url.path == "/internal/v1/label_names"

    remote, seen = _remote(lambda n: httpx.Response(500, text="boom"), retries=2)
    with pytest.raises(RemoteQueryError, match="boom") as info:
        remote.querier("t", 0, 1).label_names()
    assert info.value.status == 500 and len(seen) == 3 and not info.value.is_client


def test_4xx_and_504_are_not_retried() -> None:
    err = pb.ErrorResponse(message="bad matcher").SerializeToString()
    remote, seen = _remote(lambda n: httpx.Response(
        400, content=err, headers={"content-type": "application/x-protobuf"}), retries=5)
    with pytest.raises(RemoteQueryError, match="bad matcher") as info:
        remote.querier("t", 0, 1).label_values("job")
    assert info.value.is_client and len(seen) == 1
    remote, seen = _remote(lambda n: httpx.Response(504), retries=5)
    with pytest.raises(RemoteQueryTimeoutError):
        remote.querier("t", 0, 1).select([])
    assert len(seen) == 1


def test_closed_queryable_refuses_calls_and_garbage_is_an_error() -> None:
    remote, seen = _remote(lambda n: httpx.Response(200, content=b"\xff\xff\xff"))
    with pytest.raises(RemoteQueryError, match="bad select answer"):
        remote.querier("t", 0, 1).select([])
    remote.close()
    with pytest.raises(RemoteQueryCancelledError):
        remote.querier("t", 0, 1).select([])
    assert len(seen) == 1


_label_text = st.text(min_size=1, max_size=8)


@st.composite
def series_lists(draw) -> list[Series]:
    out = []
    for _ in range(draw(st.integers(0, 6))):
        labels = Labels(draw(st.dictionaries(_label_text, _label_text, max_size=4)).items())
        n = draw(st.integers(0, 40))
        deltas = draw(st.lists(st.integers(1, 2**40), min_size=n, max_size=n))
        start = draw(st.integers(-(2**50), 2**50))
        ts = start + np.cumsum(np.array(deltas, dtype=np.int64))
        bits = draw(st.lists(st.integers(0, 2**64 - 1), min_size=n, max_size=n))
        vs = np.array(bits, dtype=np.uint64).view(np.float64)  # any bits: NaN payloads too
        out.append(Series(labels, ts.astype(np.int64), vs))
    return out


@settings(max_examples=60, deadline=None)
@given(series_lists(), st.sampled_from([RAW, XOR_CHUNKS]))
def test_any_series_round_trip(series: list[Series], encoding: int) -> None:
    got = decode_series(pb.SelectResponse.FromString(
        encode_select_response(series, encoding)).series)
    assert [s.labels for s in got] == [s.labels for s in series]
    for g, w in zip(got, series, strict=True):
        assert g.timestamps.tolist() == w.timestamps.tolist()
        assert g.values.view(np.uint64).tolist() == w.values.view(np.uint64).tolist()
