"""Wire encodings for the internal select answer: bytes and encode + decode time.

Run: ``python benchmarks/bench_rpc.py [--series 10000] [--samples 240] [--no-http]``

Every encoding carries the same ``list[Series]`` (labels + int64 timestamps +
float64 values) from server to client and back into ``Series`` objects, so
decode times include building the labels. Candidates:

* ``raw``          our ``SeriesSet`` with RAW sample blobs (``tidewell.querier.wire``)
* ``xor``          our ``SeriesSet`` with XOR chunks (the default)
* ``raw+zstd``/``raw+lz4``  the raw message compressed with cramjam
* ``prompb``       remote-read shape: a protobuf message per sample (packed fields'
                   naive cousin, what a straight port of Prometheus's API would do)
* ``arrow``        Arrow IPC stream (only if ``pyarrow`` is importable)
* ``json``         Prometheus-API-like JSON, for contrast

Then (unless ``--no-http``) the end-to-end ``RemoteQueryable.select`` over
loopback, server and client in this process, for raw and xor.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from collections.abc import Callable

import cramjam
import numpy as np

from tidewell.model import Labels, Matcher, MatchType, Series
from tidewell.protocol.pb import internal_pb2 as pb
from tidewell.protocol.pb import prompb_pb2
from tidewell.querier.wire import (
    RAW,
    XOR_CHUNKS,
    decode_series,
    encode_select_response,
    encode_series,
)

Codec = tuple[Callable[[list[Series]], bytes], Callable[[bytes], list[Series]]]


def make_series(n_series: int, n_samples: int, seed: int = 42) -> list[Series]:
    """Scraped-looking data: 15 s interval with ms jitter; 60% counters, 40% gauges, 6 labels."""
    rng = np.random.default_rng(seed)
    out = []
    base = 1_700_000_000_000 + np.arange(n_samples, dtype=np.int64) * 15_000
    for i in range(n_series):
        ts = base + rng.integers(-5, 6, n_samples)
        if i % 5 < 3:  # counter: integer increments
            vs = np.cumsum(rng.integers(0, 200, n_samples)).astype(np.float64)
        elif i % 5 == 3:  # gauge in bytes
            vs = (1e9 + np.cumsum(rng.integers(-4096, 4096, n_samples)) * 4096).astype(np.float64)
        else:  # gauge with two decimals
            vs = np.round(50 + np.cumsum(rng.normal(0, 1, n_samples)), 2)
        labels = Labels.from_dict({
            "__name__": f"metric_{i % 50}", "job": f"job-{i % 7}",
            "instance": f"10.0.{i % 250}.{i // 250}:9100",
            "cluster": "prod-eu-1", "namespace": f"ns-{i % 13}", "pod": f"pod-{i}",
        })
        out.append(Series(labels, ts, vs))
    return out


def _ours(encoding: int) -> Codec:
    return (
        lambda s: encode_select_response(s, encoding),
        lambda b: decode_series(pb.SelectResponse.FromString(b).series),
    )


def _compressed(codec: Codec, name: str) -> Codec:
    enc, dec = codec
    comp = getattr(cramjam, name)
    if name == "zstd":
        return (lambda s: bytes(comp.compress(enc(s), level=1)),
                lambda b: dec(bytes(comp.decompress(b))))
    return (lambda s: bytes(comp.compress_block(enc(s))),
            lambda b: dec(bytes(comp.decompress_block(b))))


def _prompb() -> Codec:
    def enc(series: list[Series]) -> bytes:
        res = prompb_pb2.QueryResult()
        for s in series:
            ts = res.timeseries.add()
            ts.labels.extend(prompb_pb2.Label(name=n, value=v) for n, v in s.labels)
            ts.samples.extend(prompb_pb2.Sample(timestamp=t, value=v)
                              for t, v in zip(s.timestamps.tolist(), s.values.tolist(),
                                              strict=True))
        return res.SerializeToString()

    def dec(data: bytes) -> list[Series]:
        out = []
        for ts in prompb_pb2.QueryResult.FromString(data).timeseries:
            samples = ts.samples
            out.append(Series(Labels.from_sorted((lb.name, lb.value) for lb in ts.labels),
                              np.fromiter((x.timestamp for x in samples), np.int64, len(samples)),
                              np.fromiter((x.value for x in samples), np.float64, len(samples))))
        return out

    return enc, dec


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def _json() -> Codec:
    def enc(series: list[Series]) -> bytes:
        return json.dumps([
            {"metric": dict(s.labels),
             "values": [[t / 1000, _fmt(v)] for t, v in zip(s.timestamps.tolist(),
                                                            s.values.tolist(), strict=True)]}
            for s in series]).encode()

    def dec(data: bytes) -> list[Series]:
        out = []
        for item in json.loads(data):
            vals = item["values"]
            out.append(Series(Labels.from_dict(item["metric"]),
                              np.array([round(t * 1000) for t, _ in vals], dtype=np.int64),
                              np.array([float(v) for _, v in vals], dtype=np.float64)))
        return out

    return enc, dec


def _arrow() -> Codec | None:
    try:
        import pyarrow as pa
    except ImportError:
        return None

    def enc(series: list[Series]) -> bytes:
        names, values = [], []
        for s in series:
            for n, v in s.labels:
                names.append(n)
                values.append(v)
        meta = pa.record_batch({
            "label_counts": pa.array([len(s.labels) for s in series], pa.uint32()),
            "sample_counts": pa.array([len(s) for s in series], pa.uint32()),
        })
        labels = pa.record_batch({"name": pa.array(names).dictionary_encode(),
                                  "value": pa.array(values).dictionary_encode()})
        samples = pa.record_batch({
            "t": pa.array(np.concatenate([s.timestamps for s in series])),
            "v": pa.array(np.concatenate([s.values for s in series])),
        })
        sink = pa.BufferOutputStream()
        for batch in (meta, labels, samples):
            with pa.ipc.new_stream(sink, batch.schema) as w:
                w.write_batch(batch)
        return sink.getvalue().to_pybytes()

    def dec(data: bytes) -> list[Series]:
        reader = pa.BufferReader(data)
        meta, labels, samples = (pa.ipc.open_stream(reader).read_all() for _ in range(3))
        lc = meta.column("label_counts").to_numpy().astype(np.int64)
        sc = meta.column("sample_counts").to_numpy().astype(np.int64)
        names = labels.column("name").to_pylist()
        vals = labels.column("value").to_pylist()
        pairs = list(zip(names, vals, strict=True))
        ts = samples.column("t").to_numpy()
        vs = samples.column("v").to_numpy()
        out, lo_l, lo_s = [], 0, 0
        for nl, ns in zip(lc.tolist(), sc.tolist(), strict=True):
            out.append(Series(Labels.from_sorted(pairs[lo_l:lo_l + nl]),
                              ts[lo_s:lo_s + ns], vs[lo_s:lo_s + ns]))
            lo_l += nl
            lo_s += ns
        return out

    return enc, dec


def _check(got: list[Series], want: list[Series]) -> None:
    assert [s.labels for s in got] == [s.labels for s in want]
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g.timestamps, w.timestamps)
        assert np.array_equal(g.values.view(np.uint64), w.values.view(np.uint64))


def _best(fn: Callable[[], object], reps: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_codecs(series: list[Series], reps: int) -> list[tuple[str, int, float, float]]:
    encode_series(series[:2], XOR_CHUNKS)  # numba compile/cache load outside the timing
    codecs: dict[str, Codec | None] = {
        "raw": _ours(RAW), "xor": _ours(XOR_CHUNKS),
        "raw+zstd": _compressed(_ours(RAW), "zstd"), "raw+lz4": _compressed(_ours(RAW), "lz4"),
        "xor+zstd": _compressed(_ours(XOR_CHUNKS), "zstd"),
        "arrow": _arrow(), "prompb": _prompb(), "json": _json(),
    }
    rows = []
    for name, codec in codecs.items():
        if codec is None:
            print(f"{name:10s} skipped (not installed)")
            continue
        enc, dec = codec
        n = 1 if name in ("prompb", "json") else reps
        t_enc, data = _best(lambda enc=enc: enc(series), n)
        t_dec, got = _best(lambda dec=dec, data=data: dec(data), n)
        _check(got, series)  # type: ignore[arg-type]
        rows.append((name, len(data), t_enc, t_dec))  # type: ignore[arg-type]
        print(f"{name:10s} {len(data) / 1e6:8.1f} MB  encode {t_enc * 1e3:7.0f} ms  "
              f"decode {t_dec * 1e3:7.0f} ms", flush=True)
    return rows


class _Fixed:
    def __init__(self, series: list[Series]) -> None:
        self.series = series

    def querier(self, tenant: str, mint: int, maxt: int) -> _Fixed:
        return self

    def select(self, matchers: object, hints: object = None) -> list[Series]:
        return self.series


def bench_http(series: list[Series], reps: int) -> None:
    import uvicorn
    from starlette.applications import Starlette

    from tidewell.api.internal import internal_query_routes
    from tidewell.querier.remote import RemoteQueryable

    app = Starlette(routes=internal_query_routes(_Fixed(series)))  # type: ignore[arg-type]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    sel = [Matcher(MatchType.REGEX, "__name__", ".+")]
    try:
        for name, encoding in (("raw", RAW), ("xor", XOR_CHUNKS)):
            with RemoteQueryable(f"http://127.0.0.1:{port}", encoding=encoding) as remote:
                q = remote.querier("bench", 0, 2**62)
                t, got = _best(lambda q=q: q.select(sel), reps)
                _check(got, series)  # type: ignore[arg-type]
                print(f"http select {name:4s}: {t * 1e3:6.0f} ms for {len(series)} series "
                      f"({sum(len(s) for s in series) / t / 1e6:.1f} M samples/s)", flush=True)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=240)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-http", action="store_true")
    args = ap.parse_args()
    series = make_series(args.series, args.samples)
    print(f"{args.series} series x {args.samples} samples "
          f"({args.series * args.samples / 1e6:.1f} M samples), best of {args.reps}")
    bench_codecs(series, args.reps)
    if not args.no_http:
        bench_http(series, args.reps)


if __name__ == "__main__":
    main()
