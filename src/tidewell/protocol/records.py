"""Log record values (Mimir's record format) to columnar batches.

Record versions: 0 and 1 carry an uncompressed RW 1.0 ``WriteRequest`` (1 adds
the ``Version`` header); 2 carries an RW 2.0 request using Mimir's common-symbols
scheme (see ``rw2``).
"""

from __future__ import annotations

from tidewell.model import SampleBatch
from tidewell.protocol.errors import ProtocolError
from tidewell.protocol.rw1 import decode_write_request
from tidewell.protocol.rw2 import parse_rw2, rw2_to_rw1

__all__ = ["LATEST_RECORD_VERSION", "UnsupportedRecordVersionError", "decode_record_value"]

LATEST_RECORD_VERSION = 2


class UnsupportedRecordVersionError(ProtocolError):
    """A record newer than this reader understands: do not skip it silently."""


def decode_record_value(
    value: bytes, version: int
) -> SampleBatch:
    """Decode one record's value: float and histogram samples, exemplars, metadata.

    Raises ``ProtocolError`` for undecodable bytes and
    ``UnsupportedRecordVersionError`` for versions other than 0, 1 and 2.
    """
    if version in (0, 1):
        return decode_write_request(value)
    if version == 2:
        req, _ = rw2_to_rw1(parse_rw2(value), common_symbols=True)
        return decode_write_request(req.SerializeToString())
    raise UnsupportedRecordVersionError(
        f"received a record with an unsupported version: {version}, "
        f"max supported version: {LATEST_RECORD_VERSION}"
    )
