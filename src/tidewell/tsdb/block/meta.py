"""``meta.json`` of a block, as Prometheus writes it plus Mimir's ``thanos`` section.

``maxTime`` is exclusive, as in Prometheus: a block holds samples with
``minTime <= t < maxTime``. Unknown keys are preserved on round trips.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tidewell.tsdb.chunkenc.errors import CorruptBlockError

__all__ = ["META_FILENAME", "META_VERSION_1", "BlockMeta", "read_meta", "write_meta"]

META_FILENAME = "meta.json"
META_VERSION_1 = 1


@dataclass(slots=True)
class BlockMeta:
    ulid: str
    min_time: int
    max_time: int  # exclusive
    num_samples: int = 0
    num_series: int = 0
    num_chunks: int = 0
    compaction_level: int = 1
    compaction_sources: list[str] = field(default_factory=list)
    compaction_parents: list[dict[str, Any]] = field(default_factory=list)
    thanos_labels: dict[str, str] = field(default_factory=dict)
    source: str = "ingester"
    downsample_resolution: int = 0
    segment_files: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        thanos: dict[str, Any] = {
            "labels": dict(self.thanos_labels),
            "downsample": {"resolution": self.downsample_resolution},
            "source": self.source,
        }
        if self.segment_files:
            thanos["segment_files"] = list(self.segment_files)
        if self.files:
            thanos["files"] = [dict(f) for f in self.files]
        out: dict[str, Any] = {
            "ulid": self.ulid,
            "minTime": self.min_time,
            "maxTime": self.max_time,
            "stats": {
                "numSamples": self.num_samples,
                "numSeries": self.num_series,
                "numChunks": self.num_chunks,
            },
            "compaction": self._compaction(),
            "version": META_VERSION_1,
            "thanos": thanos,
        }
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    def _compaction(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "level": self.compaction_level,
            "sources": list(self.compaction_sources or [self.ulid]),
        }
        if self.compaction_parents:
            out["parents"] = [dict(p) for p in self.compaction_parents]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent="\t") + "\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BlockMeta:
        if d.get("version") != META_VERSION_1:
            raise ValueError(f"unsupported meta.json version {d.get('version')!r}")
        stats = d.get("stats") or {}
        comp = d.get("compaction") or {}
        thanos = d.get("thanos") or {}
        known = {"ulid", "minTime", "maxTime", "stats", "compaction", "version", "thanos"}
        return cls(
            ulid=str(d["ulid"]),
            min_time=int(d["minTime"]),
            max_time=int(d["maxTime"]),
            num_samples=int(stats.get("numSamples", 0)),
            num_series=int(stats.get("numSeries", 0)),
            num_chunks=int(stats.get("numChunks", 0)),
            compaction_level=int(comp.get("level", 1)),
            compaction_sources=[str(s) for s in comp.get("sources") or []],
            compaction_parents=[dict(p) for p in comp.get("parents") or []],
            thanos_labels={str(k): str(v) for k, v in (thanos.get("labels") or {}).items()},
            source=str(thanos.get("source", "")),
            downsample_resolution=int((thanos.get("downsample") or {}).get("resolution", 0)),
            segment_files=list(thanos.get("segment_files") or []),
            files=list(thanos.get("files") or []),
            extra={k: v for k, v in d.items() if k not in known},
        )


def read_meta(block_dir: str | os.PathLike[str]) -> BlockMeta:
    path = Path(block_dir) / META_FILENAME
    try:
        return BlockMeta.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptBlockError(f"invalid meta.json: {exc}", str(path)) from exc


def write_meta(block_dir: str | os.PathLike[str], meta: BlockMeta) -> None:
    """Write ``meta.json`` through a temp file + rename, fsync'd."""
    path = Path(block_dir) / META_FILENAME
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w") as f:
        f.write(meta.to_json())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
