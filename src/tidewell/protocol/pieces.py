"""Parse a large protobuf message in pieces, so no single C call holds the GIL for long.

``ParseFromString`` of a 50 MB request is one upb call that holds the GIL for its
whole length (hundreds of ms on a loaded machine): every other thread, the event
loop answering ``/ready`` included, waits. Protobuf defines parsing a message as
merging its fields one after another, so the same message results from merging
runs of whole fields, each at most about ``limit`` bytes. A field larger than
``limit`` that holds a sub-message is parsed the same way into its element (a new
one for a repeated field, the existing one for a singular field, as upb merges
it), down to SPLIT_DEPTH levels (OTLP's data points): upb limits nesting to 100
levels from the start of each call, so splitting deeper would let through what a
whole parse refuses (at most SPLIT_DEPTH levels more). A compiled, bounds-checked
scanner (``nogil``) finds the field boundaries.
Where the scanner stops on malformed bytes, upb parses the rest of that message
and raises its own error, so what is refused, and why, is what a whole parse says.
"""

from __future__ import annotations

import numba
import numpy as np
from google.protobuf.message import DecodeError, Message

from tidewell.protocol.wire import _skip, _varint
from tidewell.util.kernel_bytes import read_only_bytes

__all__ = ["PIECE_BYTES", "SPLIT_DEPTH", "parse_in_pieces"]

PIECE_BYTES = 1 << 20
"""About 1 MB per upb call: ~1-3 ms with the GIL held, 10x that under load."""
SPLIT_DEPTH = 5
"""Split down to this depth: request (0), resource, scope, metric, data, data point (5):
each sub-message of a data point (attribute, exemplar) is parsed in one call."""


@numba.njit(cache=True, nogil=True)
def _pieces(buf, s, e, limit, out):  # pragma: no cover - compiled
    """Split the fields in buf[s:e] into rows ``(start, end, field, payload start)``:
    runs of whole fields (field -1) of about ``limit`` bytes and single length-delimited
    fields longer than ``limit``. Returns (rows, position of malformed bytes or -1)."""
    pos = s
    run = s
    n = 0
    bad = -1
    while pos < e:
        key, p = _varint(buf, pos, e)
        if p < 0 or (key >> np.uint64(3)) == 0:
            bad = pos
            break
        wire = np.int64(key & np.uint64(7))
        if wire == 2:
            length, q = _varint(buf, p, e)
            if q < 0 or length > np.uint64(e - q):
                bad = pos
                break
            end = q + np.int64(length)
            if end - q > limit:
                if run < pos:
                    out[n, 0], out[n, 1], out[n, 2], out[n, 3] = run, pos, -1, 0
                    n += 1
                out[n, 0], out[n, 1], out[n, 2], out[n, 3] = pos, end, np.int64(key >> 3), q
                n += 1
                run = end
            pos = end
        else:
            q = _skip(buf, p, e, wire)
            if q < 0:
                bad = pos
                break
            pos = q
        if pos - run >= limit:
            out[n, 0], out[n, 1], out[n, 2], out[n, 3] = run, pos, -1, 0
            n += 1
            run = pos
    if run < pos:
        out[n, 0], out[n, 1], out[n, 2], out[n, 3] = run, pos, -1, 0
        n += 1
    return n, bad


def _merge(msg: Message, buf: np.ndarray, view: memoryview, s: int, e: int, limit: int,
           depth: int) -> None:
    # Runs are >= limit bytes except the one before each large field and the last.
    rows = np.empty((2 * ((e - s) // limit) + 3, 4), dtype=np.int64)
    n, bad = _pieces(buf, s, e, limit, rows)
    fields = msg.DESCRIPTOR.fields_by_number
    for start, end, number, payload in rows[:n].tolist():
        field = fields.get(number) if number >= 0 else None
        if (field is None or field.type != field.TYPE_MESSAGE or depth >= SPLIT_DEPTH
                or field.message_type.GetOptions().map_entry):
            msg.MergeFromString(view[start:end])
        elif field.is_repeated:
            _merge(getattr(msg, field.name).add(), buf, view, payload, end, limit, depth + 1)
        else:
            child = getattr(msg, field.name)
            child.SetInParent()  # present (and the oneof's case) even if empty, as a parse sets it
            _merge(child, buf, view, payload, end, limit, depth + 1)
    if bad >= 0:
        msg.MergeFromString(view[bad:e])  # upb says what is wrong (or accepts what we skip)


def parse_in_pieces(msg: Message, data: bytes | memoryview, limit: int = PIECE_BYTES) -> None:
    """Merge ``data`` into ``msg`` as ``msg.MergeFromString(data)`` would, one piece of
    about ``limit`` bytes per upb call. Raises upb's ``DecodeError``, naming ``msg``'s
    type as a whole parse does."""
    view = memoryview(data).cast("B")
    buf = read_only_bytes(view)  # one compiled signature whatever the caller's buffer
    try:
        _merge(msg, buf, view, 0, len(buf), limit, 0)
    except DecodeError as e:
        _, _, reason = str(e).partition("': ")
        raise DecodeError(f"Error parsing message with type '{msg.DESCRIPTOR.full_name}'"
                          + (f": {reason}" if reason else "")) from None
