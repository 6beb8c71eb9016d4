"""Wire formats in: remote write 1.0/2.0, OTLP, and Mimir's log record values.

Our own ``.proto`` files live in ``proto/``; ``pb/`` holds the generated modules
(``scripts/gen_protos.sh``). Hot paths walk raw bytes (``wire``) instead of
building an object per label.
"""

from tidewell.protocol.compression import decompress, snappy_compress, snappy_decompress
from tidewell.protocol.errors import ProtocolError, TooLargeError, UnsupportedMediaError
from tidewell.protocol.records import (
    LATEST_RECORD_VERSION,
    UnsupportedRecordVersionError,
    decode_record_value,
)
from tidewell.protocol.rw1 import decode_write_request, encode_write_request

__all__ = [
    "LATEST_RECORD_VERSION",
    "ProtocolError",
    "TooLargeError",
    "UnsupportedMediaError",
    "UnsupportedRecordVersionError",
    "decode_record_value",
    "decode_write_request",
    "decompress",
    "encode_write_request",
    "snappy_compress",
    "snappy_decompress",
]
