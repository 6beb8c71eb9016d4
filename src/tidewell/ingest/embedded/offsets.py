"""Consumer-group offsets of the embedded log, kept durably in one small JSON file.

Every commit rewrites ``offsets.json`` (write to a temporary file, fdatasync,
rename, fsync the directory), so a crash leaves either the old or the new
file, never a mix. Ingesters commit about once a second, which this handles
easily.
"""

from __future__ import annotations

import json
import os

from tidewell.util.fsync import fsync_dir

__all__ = ["OffsetStore"]

_FILE = "offsets.json"


class OffsetStore:
    """``{group: {partition: offset}}`` mirrored in memory and on disk."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, _FILE)
        self.offsets: dict[str, dict[int, int]] = {}
        try:
            with open(self.path, encoding="utf-8") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return
        for group, parts in doc.get("groups", {}).items():
            self.offsets[group] = {int(p): int(o) for p, o in parts.items()}

    def get(self, group: str, partition: int) -> int | None:
        return self.offsets.get(group, {}).get(partition)

    def set(self, group: str, partition: int, offset: int) -> str:
        """Update memory; return the document the caller must ``persist`` (in a thread)."""
        self.offsets.setdefault(group, {})[partition] = offset
        doc = {
            "version": 1,
            "groups": {
                g: {str(p): o for p, o in sorted(parts.items())}
                for g, parts in sorted(self.offsets.items())
            },
        }
        return json.dumps(doc, separators=(",", ":"))

    def persist(self, text: str) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fdatasync(f.fileno())
        os.replace(tmp, self.path)
        fsync_dir(self.directory)

    def groups_behind(self, partition: int, offset: int) -> list[str]:
        """Groups whose committed offset on ``partition`` is below ``offset``."""
        return sorted(
            g for g, parts in self.offsets.items() if parts.get(partition, offset) < offset
        )
