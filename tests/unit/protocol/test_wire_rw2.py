"""The compiled RW 2.0 → 1.0 transcoder gives upb's bytes, refuses what upb refuses,
and leaves the GIL to other threads while it works on a large body."""

from __future__ import annotations

import random
import threading
import time

import pytest

from tidewell.protocol import snappy_compress, snappy_decompress
from tidewell.protocol.errors import ProtocolError
from tidewell.protocol.pb import writev2_pb2 as pb2
from tidewell.protocol.rw2 import parse_rw2, rw2_to_rw1
from tidewell.protocol.wire_rw2 import transcode_rw2


def _reference(raw: bytes) -> tuple[bytes, tuple[int, int, int]]:
    wr, stats = rw2_to_rw1(parse_rw2(raw))
    return wr.SerializeToString(), (stats.samples, stats.histograms, stats.exemplars)


def _as_pushed(raw: bytes) -> memoryview:
    """``raw`` as the distributor hands it over: snappy-decoded into a writable buffer.

    The kernels then have the argument types they have in production, whose compiled
    code the cache already holds; ``bytes`` (read-only) would compile them all a second
    time (~8 s on a clean checkout).
    """
    return snappy_decompress(snappy_compress(raw), len(raw))


def _ours(raw: bytes) -> tuple[bytes, tuple[int, int, int]]:
    out, stats = transcode_rw2(_as_pushed(raw))
    return bytes(out), (stats.samples, stats.histograms, stats.exemplars)


def _random_request(rng: random.Random) -> pb2.Request:
    req = pb2.Request()
    words = ["", "__name__", "job", "instance", "le", "help text ü", "s", "bytes",
             "x" * 200, "métrique", *(f"v{i}" for i in range(20))]
    req.symbols.extend(words)
    for _ in range(rng.randint(0, 30)):
        ts = req.timeseries.add()
        refs = []
        for _ in range(rng.randint(0, 5)):
            refs += [rng.randrange(len(words)), rng.randrange(len(words))]
        if rng.random() < 0.8:
            refs += [1, rng.randrange(10, len(words))]
        ts.labels_refs.extend(refs)
        for _ in range(rng.randint(0, 4)):
            ts.samples.add(value=rng.choice([0.0, -0.0, 1.5, float("nan"), -3e300]),
                           timestamp=rng.choice([0, 1, -5, 1_700_000_000_000, 2**62]),
                           start_timestamp=rng.choice([0, 7]))
        for _ in range(rng.randint(0, 2)):
            h = ts.histograms.add(count_int=rng.randint(0, 9), sum=rng.random(), schema=3,
                                  timestamp=rng.randint(-1, 10**12), start_timestamp=5)
            h.positive_spans.add(offset=-1, length=2)
            h.positive_deltas.extend([1, -2])
        for _ in range(rng.randint(0, 2)):
            ex = ts.exemplars.add(value=rng.choice([0.0, 2.5]), timestamp=rng.choice([0, 9]))
            ex.labels_refs.extend([2, rng.randrange(len(words))] * rng.randint(0, 2))
        if rng.random() < 0.6:
            ts.metadata.type = rng.choice([0, 1, 2, 3, 7])
            ts.metadata.help_ref = rng.choice([0, 5])
            ts.metadata.unit_ref = rng.choice([0, 7])
    return req


def test_equal_to_upb_conversion_on_random_requests() -> None:
    rng = random.Random(14)
    for _ in range(300):
        raw = _random_request(rng).SerializeToString()
        assert _ours(raw) == _reference(raw)


def test_unpacked_label_refs_read_as_packed() -> None:
    req = pb2.Request(symbols=["", "__name__", "up", "job", "a"])
    req.timeseries.add(labels_refs=[1, 2, 3, 4]).samples.add(value=1, timestamp=5)
    raw = req.SerializeToString()
    sample = req.timeseries[0].samples[0].SerializeToString()
    series = bytes([0x08, 1, 0x08, 2, 0x08, 3, 0x08, 4, 0x12, len(sample)]) + sample
    symbols = b"".join(pb2.Request(symbols=[s]).SerializeToString() for s in req.symbols)
    unpacked = symbols + bytes([0x2A, len(series)]) + series
    assert _ours(unpacked)[0] == _reference(raw)[0]


def test_wire_type_mismatch_is_an_unknown_field_as_upb_reads_it() -> None:
    req = pb2.Request(symbols=["", "__name__", "up"])
    req.timeseries.add(labels_refs=[1, 2]).samples.add(value=2, timestamp=3)
    raw = b"\x20\x01" + req.SerializeToString()  # "symbols" as a varint: skipped
    assert _ours(raw) == _reference(raw)


@pytest.mark.parametrize(("refs", "message"), [
    ([1, 2, 3], "odd number of label references"),
    ([1, 9], "symbol reference 9 out of range (symbols table has 3)"),
])
def test_bad_references_refused(refs: list[int], message: str) -> None:
    req = pb2.Request(symbols=["", "__name__", "up"])
    req.timeseries.add(labels_refs=refs)
    with pytest.raises(ProtocolError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        transcode_rw2(_as_pushed(req.SerializeToString()))


@pytest.mark.parametrize("raw", [
    b"\x00\x01",                    # field number 0
    b"\x22\x05abc",                 # symbols entry runs past the end
    b"\x2a\x03\x12\x05\x09",        # a sample runs past its series
    b"\x22\x02\xff\xfe",            # a symbol that is not UTF-8
    b"\x2a\x02\x12\x00\x2a",        # a trailing tag without its payload
])
def test_malformed_bodies_refused_as_upb_does(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        _reference(raw)  # upb refuses it ...
    with pytest.raises(ProtocolError, match=r"invalid remote write 2\.0 request"):
        transcode_rw2(_as_pushed(raw))  # ... and so do we


def _big_body() -> bytes:
    req = pb2.Request()
    req.symbols.extend(["", "__name__", "big", "id", "pad"])
    pad = "p" * 3000
    for i in range(6000):
        base = len(req.symbols)
        req.symbols.extend([f"{i:09d}", f"{pad}{i}"])
        ts = req.timeseries.add(labels_refs=[1, 2, 3, base, 4, base + 1])
        ts.samples.add(value=float(i), timestamp=1_700_000_000_000 + i)
    return req.SerializeToString()


@pytest.mark.serial  # a wall-clock bound or a race: alone on its core
def test_large_body_leaves_the_gil_to_other_threads() -> None:
    """While an 18 MB body transcodes, a pure-Python thread keeps running.

    Counted in the spinner's turns, not wall time: a call holding the GIL
    throughout (upb's ``SerializeToString`` of the same request) lets it turn
    at most once per call; ours lets it turn every few hundred microseconds.
    """
    raw = _as_pushed(_big_body())
    transcode_rw2(raw)  # compiled and warm
    stop = threading.Event()
    ticks: list[float] = []

    def spin() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0002)

    spinner = threading.Thread(target=spin)
    spinner.start()
    time.sleep(0.02)
    t0 = time.perf_counter()
    for _ in range(5):
        transcode_rw2(raw)
    t1 = time.perf_counter()
    stop.set()
    spinner.join()
    turns = sum(1 for t in ticks if t0 <= t <= t1)
    assert turns >= 25, (turns, t1 - t0)
