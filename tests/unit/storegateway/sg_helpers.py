"""Blocks in a filesystem bucket for store-gateway tests (shared with integration tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from prometheus_client import REGISTRY

from tidewell.model.labels import Labels
from tidewell.objstore import Bucket, tenant_bucket
from tidewell.objstore.bucketindex import update_bucket_index
from tidewell.tsdb.block import write_block

T0 = 1_700_006_400_000  # a multiple of 2h
HOUR = 3_600_000
STEP = 15_000


def make_series(
    n: int, start: int, end: int, *, name: str = "m", seed: int = 1, step: int = STEP
) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    """``n`` series sorted by labels with a sample every ``step`` in ``[start, end)``."""
    rng = np.random.default_rng(seed)
    ts = np.arange(start, end, step, dtype=np.int64)
    out = []
    for i in range(n):
        labels = Labels.from_dict({"__name__": name, "i": f"{i:04d}", "job": f"j{i % 3}"})
        vs = np.round(rng.normal(0, 1000, ts.shape[0]).cumsum(), 3)
        out.append((labels, ts.copy(), vs))
    out.sort(key=lambda s: s[0])
    return out


def write_and_upload(
    bucket: Bucket, tenant: str, local: Path, series: list, **kwargs: object
) -> str:
    """Write a block of ``series`` locally, upload it (meta.json last); return its ULID."""
    path, meta = write_block(local, series, **kwargs)
    upload_dir(bucket, tenant, path)
    return meta.ulid


def upload_dir(bucket: Bucket, tenant: str, path: Path) -> None:
    tb = tenant_bucket(bucket, tenant)
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name != "meta.json")
    for f in files:
        tb.upload_file(f"{path.name}/{f.relative_to(path).as_posix()}", f)
    tb.upload_file(f"{path.name}/meta.json", path / "meta.json")
    update_bucket_index(bucket, tenant)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
