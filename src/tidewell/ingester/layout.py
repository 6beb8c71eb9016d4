"""Where an ingester keeps what on local disk, out of reach of any tenant ID.

::

    <tsdb dir>/wal/                      the local WAL (internal)
    <tsdb dir>/snapshots/                head snapshots (internal)
    <tsdb dir>/tenants/<tenant>/<ULID>/  each tenant's cut blocks

A tenant's directory is its ID: validated IDs (``model.tenant``) are at most
150 bytes of ``[A-Za-z0-9!-_.*'()]`` and never ``.`` or ``..``, so they are
always valid file names; and as every tenant lives under ``tenants/``, no ID
can reach ``wal`` or ``snapshots``. Earlier versions kept tenant directories
beside the internal ones; :meth:`IngesterLayout.migrate` moves them on start.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tidewell.ingester.compactor import local_blocks
from tidewell.ingester.shipper import SHIPPER_FILENAME, THANOS_SHIPPER_FILENAME
from tidewell.ingester.wal import _fsync_dir as fsync_dir

__all__ = ["IngesterLayout"]

log = logging.getLogger("tidewell.ingester")

WAL_DIR = "wal"
SNAPSHOTS_DIR = "snapshots"
TENANTS_DIR = "tenants"
_INTERNAL = (WAL_DIR, SNAPSHOTS_DIR, TENANTS_DIR)
_SHIPPER_FILES = (SHIPPER_FILENAME, THANOS_SHIPPER_FILENAME)


@dataclass(frozen=True)
class IngesterLayout:
    """The directories of one ingester's TSDB directory."""

    root: Path

    @property
    def wal_dir(self) -> str:
        return str(self.root / WAL_DIR)

    @property
    def snapshots_dir(self) -> str:
        return str(self.root / SNAPSHOTS_DIR)

    @property
    def tenants_dir(self) -> Path:
        return self.root / TENANTS_DIR

    def tenant_dir(self, tenant: str) -> str:
        return str(self.tenants_dir / tenant)

    def tenants(self) -> list[str]:
        """Tenants with a local directory, sorted."""
        if not self.tenants_dir.is_dir():
            return []
        return sorted(p.name for p in self.tenants_dir.iterdir() if p.is_dir())

    def migrate(self) -> list[str]:
        """Move tenant directories of the earlier layout under ``tenants/``; return them.

        Before, ``<tsdb dir>/<tenant>/`` sat beside ``wal/`` and ``snapshots/``, so a
        tenant named ``wal``, ``snapshots`` or ``tenants`` had its blocks and shipper
        file mixed into that directory: those are picked out (blocks are ULID
        directories with a ``meta.json``). Every move is a rename, so a crash in
        between leaves a state that the next start finishes.
        """
        if not self.root.is_dir():
            return []
        self.tenants_dir.mkdir(exist_ok=True)
        moved: list[str] = []
        for entry in sorted(self.root.iterdir()):
            if not entry.is_dir():
                continue
            target = self.tenants_dir / entry.name
            if entry.name in _INTERNAL:
                items = [*local_blocks(entry),
                         *(entry / n for n in _SHIPPER_FILES if (entry / n).is_file())]
                if not items:
                    continue
                _move_into(target, items)
            elif not target.exists():
                os.rename(entry, target)
            else:  # a crash interrupted an earlier merge
                _move_into(target, list(entry.iterdir()))
                entry.rmdir()
            moved.append(entry.name)
        if moved:
            fsync_dir(str(self.tenants_dir))
            fsync_dir(str(self.root))
            log.info("moved tenant directories under tenants/",
                     extra={"fields": {"tenants": ",".join(moved)}})
        return moved


def _move_into(target: Path, items: list[Path]) -> None:
    target.mkdir(exist_ok=True)
    for item in items:
        dest = target / item.name
        if dest.exists():  # moved before a crash, then recreated: the moved copy wins
            shutil.rmtree(item) if item.is_dir() else item.unlink()
        else:
            os.rename(item, dest)
    fsync_dir(str(target))
