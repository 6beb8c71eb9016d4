"""The files of a block directory in the order uploaders write them."""

from __future__ import annotations

from pathlib import Path

__all__ = ["block_files"]


def block_files(block_dir: Path) -> list[str]:
    """Relative paths to upload, in upload order: chunk segments, index, meta.json last.

    Readers take a block to exist once its ``meta.json`` does, so it goes last.
    """
    chunks = sorted(p.name for p in (block_dir / "chunks").iterdir() if p.name.isdigit())
    return [f"chunks/{c}" for c in chunks] + ["index", "meta.json"]
