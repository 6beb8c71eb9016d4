"""Snapshots of all heads of an ingester, named by the next offset they cover.

``<dir>/snapshot-<next offset:020d>/<tenant>.head.npz``. A snapshot is written
into a ``.tmp`` directory, every file fsync'd, then renamed into place, so a
directory without the suffix is always complete. Only the newest is kept.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable

from tidewell.ingester.wal import _fsync_dir
from tidewell.tsdb.head import Head
from tidewell.tsdb.head.snapshot import load_head, save_head

__all__ = ["head_file_name", "latest_snapshot", "load_snapshot", "tenant_of_file", "write_snapshot"]

log = logging.getLogger("tidewell.ingester")
_PREFIX = "snapshot-"
_HEAD_SUFFIX = ".head.npz"


def head_file_name(tenant: str) -> str:
    """A validated tenant ID is a safe file name (<= 150 bytes); hex would not fit in 255."""
    return tenant + _HEAD_SUFFIX


def tenant_of_file(name: str) -> str | None:
    """The tenant a snapshot file holds; earlier versions named it ``<hex of tenant>.npz``."""
    if name.endswith(_HEAD_SUFFIX):
        return name[: -len(_HEAD_SUFFIX)]
    if name.endswith(".npz"):
        return bytes.fromhex(name[: -len(".npz")]).decode()
    return None


def _complete(directory: str) -> list[tuple[int, str]]:
    if not os.path.isdir(directory):
        return []
    out = []
    for name in os.listdir(directory):
        if name.startswith(_PREFIX) and name[len(_PREFIX) :].isdigit():
            out.append((int(name[len(_PREFIX) :]), os.path.join(directory, name)))
    return sorted(out)


def latest_snapshot(directory: str) -> tuple[int, str] | None:
    snaps = _complete(directory)
    return snaps[-1] if snaps else None


def write_snapshot(directory: str, next_offset: int, heads: Iterable[tuple[str, Head]]) -> str:
    """Write every head; return the snapshot's path. Older snapshots are removed."""
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, f"{_PREFIX}{next_offset:020d}")
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.mkdir(tmp)
    for tenant, head in heads:
        path = os.path.join(tmp, head_file_name(tenant))
        with open(path, "wb") as f:
            save_head(head, f)
            f.flush()
            os.fsync(f.fileno())
    _fsync_dir(tmp)
    if os.path.exists(final):
        shutil.rmtree(final)
    os.rename(tmp, final)
    _fsync_dir(directory)
    for offset, path in _complete(directory):
        if offset != next_offset:
            shutil.rmtree(path, ignore_errors=True)
    for name in os.listdir(directory):
        if name.endswith(".tmp"):
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
    return final


def load_snapshot(path: str) -> dict[str, Head]:
    heads = {}
    for name in sorted(os.listdir(path)):
        tenant = tenant_of_file(name)
        if tenant is not None:
            heads[tenant] = load_head(os.path.join(path, name))
    return heads
