"""Mimir's ingest record format: key, value and the ``Version`` header.

A record's key is the tenant ID, its value a serialized write request, and its
``Version`` header a 4-byte big-endian integer naming how the value is encoded.
We produce version 1 (a remote-write 1.0 body) and accept 0, 1 and 2 when
reading; a record without the header is version 0, as in Mimir. Decoding the
value is the consumer's job: this module only carries the version and the bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from tidewell.ingest.log import LogError

__all__ = [
    "PRODUCED_VERSION",
    "VERSION_HEADER",
    "InvalidVersionHeaderError",
    "RecordTooLargeError",
    "decode_version_header",
    "encode_version_header",
    "version_from_headers",
]

VERSION_HEADER = "Version"
PRODUCED_VERSION = 1

_U32 = struct.Struct(">i")


class RecordTooLargeError(LogError):
    """A record is over ``-ingest-storage.kafka.producer-max-record-size-bytes``: split it."""


class InvalidVersionHeaderError(LogError):
    """A record's ``Version`` header is not a 4-byte integer.

    (A well-formed version this build cannot decode is the decoder's
    ``tidewell.protocol.UnsupportedRecordVersionError``.)
    """


def encode_version_header(version: int) -> bytes:
    """The header value: ``version`` as a 4-byte big-endian signed int (Go's int32)."""
    return _U32.pack(version)


def decode_version_header(raw: bytes) -> int:
    if len(raw) != 4:
        raise InvalidVersionHeaderError(
            f"invalid {VERSION_HEADER} header: expected 4 bytes, got {len(raw)}"
        )
    return int(_U32.unpack(raw)[0])


def version_from_headers(headers: Iterable[tuple[str, bytes | None]] | None) -> int:
    """Version of a record given its headers; 0 when there is no ``Version`` header."""
    if not headers:
        return 0
    for name, raw in headers:
        if name == VERSION_HEADER:
            return decode_version_header(raw or b"")
    return 0

