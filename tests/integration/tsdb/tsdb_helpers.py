"""Test data generation and promtool helpers shared by the TSDB integration tests
and ``benchmarks/bench_tsdb_blocks.py``."""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np

from tidewell.model.labels import Labels
from tidewell.model.samples import STALE_NAN_BITS

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def realistic_series(
    n_series: int,
    hours: float = 2.0,
    interval_ms: int = 15_000,
    start_ms: int = 1_700_006_400_000,
    seed: int = 7,
    specials: bool = False,
    jitter_ms: int = 8,
) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    """Counters, integer and float gauges and constants, sorted by labels.

    Timestamps carry up to ``jitter_ms`` of scrape jitter (Prometheus >= 2.41
    snaps jitter of up to 2 ms away, so 0 is closest to its real blocks). With
    ``specials`` some series hold NaN, ±Inf and a staleness marker.
    """
    rng = np.random.default_rng(seed)
    n = int(hours * 3600_000 // interval_ms)
    base = start_ms + np.arange(n, dtype=np.int64) * interval_ms
    out = []
    kinds = ["counter"] * 4 + ["gauge_int"] * 3 + ["gauge_float"] * 2 + ["const"]
    for i in range(n_series):
        kind = kinds[i % len(kinds)]
        ts = base + rng.integers(0, jitter_ms + 1, n)
        if kind == "counter":
            vs = np.cumsum(rng.poisson(rng.uniform(0.5, 200), n)).astype(np.float64)
            name = "http_requests_total"
        elif kind == "gauge_int":
            vs = (1e8 + np.cumsum(rng.integers(-20, 21, n)) * 4096).astype(np.float64)
            name = "process_resident_memory_bytes"
        elif kind == "gauge_float":
            vs = np.round(np.cumsum(rng.uniform(0, 0.05, n)), 2)
            name = "process_cpu_seconds_total"
        else:
            vs = np.ones(n)
            name = "up"
        if specials and i % 7 == 3:
            vs[n // 3] = np.nan
            vs[n // 2] = np.inf
            vs[n // 2 + 1] = -np.inf
            vs[-1:] = np.array([STALE_NAN_BITS], dtype=np.uint64).view(np.float64)
        labels = Labels(
            {
                "__name__": name,
                "job": f"job-{i % 5}",
                "instance": f"host-{i // 10:04d}:9100",
                "series": str(i),
            }.items()
        )
        out.append((labels, ts, vs))
    out.sort(key=lambda x: x[0])
    return out


def _om_float(v: float) -> str:
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def to_openmetrics(series: list[tuple[Labels, np.ndarray, np.ndarray]]) -> str:
    """OpenMetrics text of ``series`` (as untyped gauges; timestamps in seconds)."""
    lines = []
    by_name: dict[str, list[tuple[Labels, np.ndarray, np.ndarray]]] = {}
    for s in series:
        by_name.setdefault(s[0].name, []).append(s)
    for name, group in sorted(by_name.items()):
        lines.append(f"# TYPE {name} gauge")
        for labels, ts, vs in group:
            inner = ",".join(f'{k}="{v}"' for k, v in labels if k != "__name__")
            for t, v in zip(ts.tolist(), vs.tolist(), strict=True):
                lines.append(f"{name}{{{inner}}} {_om_float(v)} {t // 1000}.{t % 1000:03d}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def run_promtool(*args: str, timeout: float = 60) -> str:
    proc = subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"promtool {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def go_labels(labels: Labels) -> str:
    """Prometheus's ``labels.String()`` for ASCII label values."""
    inner = ", ".join(
        f'{n}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for n, v in labels
    )
    return "{" + inner + "}"


def value_key(v: float) -> tuple[int, float]:
    """Comparable form of a float; all NaNs compare equal (dump prints 'NaN')."""
    return (1, 0.0) if math.isnan(v) else (0, v)


def dump_samples(db: Path) -> list[tuple[str, int, tuple[int, float]]]:
    """``promtool tsdb dump`` of a copy of ``db``, parsed and sorted.

    Dumping opens the directory as a TSDB (it wants a ``wal`` dir and creates
    ``chunks_head``), so it runs on a scratch copy.
    """
    scratch = db.parent / (db.name + ".dump")
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(db, scratch)
    (scratch / "wal").mkdir(exist_ok=True)
    out = run_promtool("tsdb", "dump", str(scratch), timeout=120)
    shutil.rmtree(scratch, ignore_errors=True)
    rows = []
    for line in out.splitlines():
        if not line:
            continue
        lbls, val, ts = line.rsplit(" ", 2)
        rows.append((lbls, int(ts), value_key(float(val))))
    rows.sort()
    return rows


def rows_of(series: list[tuple[Labels, np.ndarray, np.ndarray]]) -> list[tuple]:
    rows = []
    for labels, ts, vs in series:
        s = go_labels(labels)
        rows.extend((s, int(t), value_key(float(v))) for t, v in zip(ts, vs, strict=True))
    rows.sort()
    return rows


def float_bits(v: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", v))[0]
