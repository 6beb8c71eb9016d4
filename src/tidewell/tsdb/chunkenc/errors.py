"""Errors raised when stored TSDB data does not decode.

``CorruptBlockError`` is the one class callers catch: every reader in
``tidewell.tsdb`` (chunk decoding, chunk segment files, the index, meta.json)
raises it, or a subclass, instead of returning data it could not verify.
It lives here, in the lowest TSDB package, so that all of them can share it.
"""

from __future__ import annotations

from tidewell.model.errors import TidewellError

__all__ = ["CorruptBlockError", "CorruptChunkError"]


class CorruptBlockError(TidewellError):
    """Stored block data failed a check (CRC, bounds, magic, structure).

    ``file`` names the file (or "" when only bytes were given) and ``offset``
    the byte offset of the damaged record (-1 when unknown).
    """

    def __init__(self, reason: str, file: str = "", offset: int = -1) -> None:
        self.reason = reason
        self.file = file
        self.offset = offset
        where = file or "<bytes>"
        if offset >= 0:
            where = f"{where} at offset {offset}"
        super().__init__(f"corrupt block data in {where}: {reason}")


class CorruptChunkError(CorruptBlockError):
    """An encoded chunk does not decode (truncated or inconsistent bit stream)."""
