"""Our histogram chunks are byte for byte the ones Prometheus writes.

``histchunk_peer/main.go`` (module v0.316.0 = Prometheus 3.16, built from the
Go module proxy) feeds histogram sequences either to Prometheus's
``HistogramAppender`` / ``FloatHistogramAppender`` or, sample by sample, to a
real Prometheus head, and prints the chunks that result, or compacts that head
into a block with Prometheus's own block writer, which we then read;
``HistogramChunkBuilder`` gets the same sequences. Random sequences cover
new buckets (recoding), buckets missing from a sample, counter resets, gauges,
stale markers, negative buckets and custom buckets (NHCB); the head sequences
run for hours of wide histograms, so the head's size and range cuts happen.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from tidewell.model.histogram import CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Histogram
from tidewell.model.samples import stale_nan
from tidewell.tsdb.block import BlockReader
from tidewell.tsdb.chunkenc.histogram import decode_histogram_chunk, span_indices
from tidewell.tsdb.head import hist_chunks
from tidewell.tsdb.head.hist_chunks import HistogramChunkBuilder

_PEER = Path(__file__).parent / "histchunk_peer"


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> str:
    go = shutil.which("go")
    assert go, "the Go toolchain (go) is needed to build Prometheus's chunk appenders"
    d = tmp_path_factory.mktemp("histchunk_peer")
    shutil.copy(_PEER / "main.go", d / "main.go")
    shutil.copy(_PEER / "go.mod.txt", d / "go.mod")
    subprocess.run([go, "build", "-mod=mod", "-o", "peer", "."], cwd=d, check=True,
                   timeout=600, capture_output=True)
    return str(d / "peer")


def _spans(ids: list[int]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    last = 0
    for i in ids:
        if out and i == last + 1:
            out[-1][1] += 1
        else:
            out.append([i if not out else i - last - 1, 1])
        last = i
    return tuple((a, b) for a, b in out)


def _sequence(seed: int, integer: bool) -> list[tuple[int, Histogram]]:
    rnd = random.Random(seed)
    schema = rnd.choice([-2, 0, 3, CUSTOM_BUCKETS_SCHEMA])
    nhcb = schema == CUSTOM_BUCKETS_SCHEMA
    cnt = {i: rnd.randint(0, 5) for i in rnd.sample(range(0 if nhcb else -5, 12),
                                                     rnd.randint(1, 6))}
    ncnt = {} if nhcb else {i: rnd.randint(0, 5) for i in rnd.sample(range(-5, 5),
                                                                      rnd.randint(0, 3))}
    gauge = rnd.random() < 0.2
    bounds = (0.1, 0.5, 1.0, 2.5, 33.3, 100.0, 1000.0, 5000.0, 1e6, 2e6, 3e6, 4e6) if nhcb else ()
    scale = 1.0 if integer else 1.25
    zc, total_sum, t = 0, 0.0, 1_700_000_000_000
    out = []
    for _ in range(rnd.randint(1, 60)):
        t += rnd.choice([15_000, 15_000, 15_001, 14_999, 30_000])
        ev = rnd.random()
        if ev < 0.05 and not nhcb:
            cnt.setdefault(rnd.randint(-6, 14), 0)  # a new bucket: the chunk is recoded
        if 0.05 <= ev < 0.08:
            cnt = dict.fromkeys(cnt, 0)  # counter reset
            zc = 0
        for i in cnt:
            cnt[i] = max(0, cnt[i] + rnd.randint(0, 4) * (rnd.choice([-1, 1]) if gauge else 1))
        for i in ncnt:
            ncnt[i] += rnd.randint(0, 3)
        zc += rnd.randint(0, 2)
        total_sum += rnd.random() * 100
        # an empty bucket may be left out of a sample (Prometheus fills it back in)
        use = sorted(i for i in cnt if not (0.08 <= ev < 0.12 and cnt[i] == 0))
        nids = sorted(ncnt)
        if ev > 0.97:
            out.append((t, Histogram(sum=stale_nan(), integer=integer)))
            continue
        out.append((t, Histogram(
            schema=schema, zero_threshold=0.0 if nhcb else 2.0**-128,
            zero_count=0.0 if nhcb else zc * scale,
            count=(sum(cnt[i] for i in use) + sum(ncnt.values()) + (0 if nhcb else zc)) * scale,
            sum=total_sum, positive_spans=_spans(use),
            positive_buckets=tuple(cnt[i] * scale for i in use),
            negative_spans=_spans(nids), negative_buckets=tuple(ncnt[i] * scale for i in nids),
            counter_reset_hint=CounterResetHint.GAUGE if gauge else CounterResetHint.UNKNOWN,
            custom_values=bounds, integer=integer)))
    return out


def _row(t: int, h: Histogram) -> dict[str, object]:
    return {"t": t, "schema": h.schema, "zt": h.zero_threshold, "zc": h.zero_count,
            "count": h.count, "sum": 0.0 if h.sum != h.sum else h.sum,
            "ps": [list(s) for s in h.positive_spans], "pb": list(h.positive_buckets),
            "ns": [list(s) for s in h.negative_spans], "nb": list(h.negative_buckets),
            "hint": int(h.counter_reset_hint), "cv": list(h.custom_values),
            "stale": h.sum != h.sum}


def test_chunks_are_prometheus_appenders_bytes(peer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hist_chunks, "TARGET_BYTES_PER_HISTOGRAM_CHUNK", 1 << 40)
    cases = [(_sequence(seed, integer), integer) for seed in range(150)
             for integer in (True, False)]
    lines = "".join(json.dumps({"integer": integer, "samples": [_row(t, h) for t, h in seq]})
                    + "\n" for seq, integer in cases)
    go_out = subprocess.run([peer], input=lines, capture_output=True, text=True, timeout=120,
                            check=True).stdout.splitlines()
    assert len(go_out) == len(cases)
    n_chunks = 0
    for (seq, _), theirs in zip(cases, go_out, strict=True):
        b = HistogramChunkBuilder(1 << 62)
        ours = [c for c in (b.append(t, h) for t, h in seq) if c is not None]
        ours.append(b.flush())
        assert " ".join(f"{c.encoding}:{c.data.hex()}" for c in ours) == theirs
        n_chunks += len(ours)
        # and we decode what Prometheus wrote back to the samples we gave it
        got_ts = []
        for part in theirs.split():
            enc, hexdata = part.split(":")
            ts, _ = decode_histogram_chunk(bytes.fromhex(hexdata), int(enc))
            got_ts.extend(ts.tolist())
        assert got_ts == [t for t, _ in seq]
    assert n_chunks > len(cases)  # resets, gauges and stale markers did cut chunks


def _long_sequence(seed: int, integer: bool) -> list[tuple[int, Histogram]]:
    rnd = random.Random(seed)
    nb = rnd.randint(3, 40)
    nhcb = rnd.random() < 0.25
    cnt = [0] * nb
    t = 1_700_000_000_000 + rnd.randint(0, 7_200_000)
    scale = 1.0 if integer else 0.5
    gauge = False
    out = []
    for _ in range(rnd.randint(50, 1500)):
        t += rnd.choice([15_000, 15_000, 10_000, 60_000, 15_003])
        ev = rnd.random()
        if ev < 0.003:
            cnt = [0] * nb  # counter reset
        if ev > 0.997:
            gauge = not gauge
        cnt = [c + rnd.randint(0, 50) for c in cnt]
        if 0.5 < ev < 0.502:
            out.append((t, Histogram(sum=stale_nan(), integer=integer)))
            continue
        out.append((t, Histogram(
            schema=CUSTOM_BUCKETS_SCHEMA if nhcb else 2, zero_threshold=0.0 if nhcb else 2.0**-128,
            count=sum(cnt) * scale, sum=sum(cnt) * 0.1, positive_spans=((0 if nhcb else 1, nb),),
            positive_buckets=tuple(c * scale for c in cnt), integer=integer,
            custom_values=tuple(0.5 * k for k in range(1, nb)) if nhcb else (),
            counter_reset_hint=CounterResetHint.GAUGE if gauge else CounterResetHint.UNKNOWN)))
    return out


def test_head_chunks_are_a_prometheus_heads_bytes(peer: str) -> None:
    cases = [(_long_sequence(seed, integer), integer) for seed in range(25)
             for integer in (True, False)]
    lines = "".join(json.dumps({"integer": integer, "samples": [_row(t, h) for t, h in seq]})
                    + "\n" for seq, integer in cases)
    go_out = subprocess.run([peer, "head"], input=lines, capture_output=True, text=True,
                            timeout=300, check=True).stdout.splitlines()
    assert len(go_out) == len(cases)
    sizes = []
    for (seq, _), theirs in zip(cases, go_out, strict=True):
        b = HistogramChunkBuilder(7_200_000)
        ours = [c for c in (b.append(t, h) for t, h in seq) if c is not None]
        ours.append(b.flush())
        assert " ".join(f"{c.encoding}:{c.data.hex()}" for c in ours) == theirs
        sizes.extend(len(c.data) for c in ours)
    assert max(sizes) >= 1024  # the size rules were exercised


def _nonzero(spans: tuple[tuple[int, int], ...], buckets: tuple[float, ...]) -> dict[int, float]:
    return {i: c for i, c in zip(span_indices(spans), buckets, strict=True) if c}


def test_we_read_a_block_prometheus_wrote(peer: str, tmp_path: Path) -> None:
    series = {f"h{seed}_{'int' if integer else 'float'}": (_sequence(seed, integer), integer)
              for seed in range(12) for integer in (True, False)}
    lines = "".join(json.dumps({"name": name, "integer": integer,
                                "samples": [_row(t, h) for t, h in seq]}) + "\n"
                    for name, (seq, integer) in series.items())
    out = subprocess.run([peer, "block", str(tmp_path)], input=lines, capture_output=True,
                         text=True, timeout=300, check=True).stdout.split()
    assert len(out) == 1
    with BlockReader(tmp_path / out[0]) as block:
        got = {s.labels.get("__name__"): s for s in block.querier(0, 2**62).select([])}
    assert sorted(got) == sorted(series)
    for name, (seq, integer) in series.items():
        hs = got[name].histograms
        assert hs is not None and hs.timestamps.tolist() == [t for t, _ in seq], name
        for (_, want), have in zip(seq, hs.values, strict=True):
            assert have.integer is integer
            if want.sum != want.sum:
                assert have.sum != have.sum
                continue
            assert (have.count, have.sum, have.zero_count, have.schema, have.custom_values) == (
                want.count, want.sum, want.zero_count, want.schema, want.custom_values)
            assert _nonzero(have.positive_spans, have.positive_buckets) == _nonzero(
                want.positive_spans, want.positive_buckets)
            assert _nonzero(have.negative_spans, have.negative_buckets) == _nonzero(
                want.negative_spans, want.negative_buckets)
