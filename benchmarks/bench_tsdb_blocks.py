"""Bytes per sample and write/read time of our blocks vs promtool's on the same data.

Run: ``python benchmarks/bench_tsdb_blocks.py [n_series]`` (default 1000 series x
2h at 15s, realistic counters/gauges, a few ms of scrape jitter). promtool
writes its block with ``tsdb create-blocks-from openmetrics`` from the same
samples.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tidewell.model.matchers import Matcher, MatchType
from tidewell.tsdb.block import BlockReader, write_block

_HELPERS = Path(__file__).parents[1] / "tests/integration/tsdb/tsdb_helpers.py"


def _helpers():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("tsdb_helpers", _HELPERS)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _size(block: Path) -> tuple[int, int]:
    chunks = sum(p.stat().st_size for p in (block / "chunks").iterdir())
    return (block / "index").stat().st_size, chunks


def main() -> None:
    n_series = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    for jitter in (0, 8):
        run(n_series, jitter)


def run(n_series: int, jitter: int) -> None:
    h = _helpers()
    series = h.realistic_series(n_series, hours=2, jitter_ms=jitter)
    n = sum(len(ts) for _, ts, _ in series)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_block(root / "warm", series[:2])  # compile the codec first
        t0 = time.perf_counter()
        # chunk_range=4h: the chunk range promtool's backfill uses, so both
        # blocks cut the same chunks; write_block's default (2h) is Mimir's.
        ours, _ = write_block(root / "ours", series, chunk_range=4 * 3600 * 1000)
        write_s = time.perf_counter() - t0

        om = root / "input.om"
        om.write_text(h.to_openmetrics(series))
        (root / "theirs").mkdir()
        t0 = time.perf_counter()
        subprocess.run(
            [
                h.PROMTOOL,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "-q",
                str(om),
                str(root / "theirs"),
            ],
            check=True,
        )
        prom_s = time.perf_counter() - t0
        (theirs,) = [p for p in (root / "theirs").iterdir() if (p / "meta.json").exists()]

        with BlockReader(ours) as reader:
            t0 = time.perf_counter()
            got = reader.querier(0, 2**62).select([Matcher(MatchType.REGEX, "__name__", ".+")])
            read_s = time.perf_counter() - t0
        assert sum(len(s) for s in got) == n
        identical = all(
            (ours / f).read_bytes() == (theirs / f).read_bytes() for f in ("index", "chunks/000001")
        )

        oi, oc = _size(ours)
        ti, tc = _size(theirs)
        print(f"{n_series} series x 2h @15s, scrape jitter 0..{jitter} ms = {n} samples")
        print(
            f"  tidewell : index {oi:>9} B  chunks {oc:>9} B  "
            f"{(oi + oc) / n:.3f} bytes/sample ({oc / n:.3f} chunks only)"
        )
        print(
            f"  promtool : index {ti:>9} B  chunks {tc:>9} B  "
            f"{(ti + tc) / n:.3f} bytes/sample ({tc / n:.3f} chunks only)"
        )
        print(f"  index and chunk files byte-identical to promtool's: {identical}")
        print(f"  tidewell write_block: {write_s:.3f} s ({n / write_s / 1e6:.2f} M samples/s)")
        print(f"  promtool create-blocks-from openmetrics (incl. text parsing): {prom_s:.3f} s")
        print(
            f"  tidewell select all series, full range: {read_s:.3f} s "
            f"({n / read_s / 1e6:.2f} M samples/s)"
        )


if __name__ == "__main__":
    main()
