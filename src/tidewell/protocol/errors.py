"""Errors of the wire layer; each knows the HTTP status a client should see.

    ProtocolError (400: bad bytes, do not retry)
     ├─ UnsupportedMediaError (415: content type or encoding we do not speak)
     └─ TooLargeError (413: body or decompressed body over the size limit)
"""

from __future__ import annotations

from tidewell.model.errors import TidewellError

__all__ = ["ProtocolError", "TooLargeError", "UnsupportedMediaError"]


class ProtocolError(TidewellError, ValueError):
    """The request body cannot be decoded; the client must not retry it as is."""

    status = 400


class UnsupportedMediaError(ProtocolError):
    status = 415


class TooLargeError(ProtocolError):
    status = 413
