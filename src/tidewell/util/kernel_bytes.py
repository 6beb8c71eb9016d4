"""Bytes handed to compiled kernels, always as one array type.

Numba compiles a kernel once per argument type, and a writable array is another
type than a read-only one: a push's decompressed buffer or a bucket read into a
``bytearray`` is writable, a record's ``bytes`` or an mmap'd index is not. Giving
every kernel entry point a read-only array means one compile per kernel, never a
second one that holds the GIL in the middle of a later request.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["read_only_bytes"]


def read_only_bytes(data: bytes | bytearray | memoryview | npt.NDArray[np.uint8]
                    ) -> npt.NDArray[np.uint8]:
    """``data`` as a read-only ``uint8`` array (a view: the caller's buffer stays as it is)."""
    buf = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
    if buf.flags.writeable:
        buf = buf.view()
        buf.flags.writeable = False
    return buf
