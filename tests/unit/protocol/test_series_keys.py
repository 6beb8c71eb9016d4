"""Decoded batches carry per-series label-bytes hashes and build their Labels lazily."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidewell.model import Labels, SampleBatch
from tidewell.protocol import ProtocolError, decode_write_request
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.rw1 import encode_write_request


def _batch(label_sets: list[Labels]) -> SampleBatch:
    n = len(label_sets)
    return SampleBatch(label_sets, np.arange(n, dtype=np.int32),
                       np.arange(n, dtype=np.int64) * 1000, np.arange(n, dtype=np.float64))


def test_equal_label_sets_get_equal_keys_and_different_ones_differ() -> None:
    sets = [Labels.from_dict({"__name__": "up", "job": f"j{i % 50}", "i": str(i // 50)})
            for i in range(5000)]
    a = decode_write_request(encode_write_request(_batch(sets)))
    b = decode_write_request(encode_write_request(_batch(sets[::-1])))
    assert a.series_keys is not None and b.series_keys is not None
    assert a.series_keys.shape == (5000, 2)
    assert np.array_equal(a.series_keys, b.series_keys[::-1])
    assert len({tuple(k) for k in a.series_keys.tolist()}) == 5000


def test_labels_are_built_on_access_and_equal_the_eager_decode() -> None:
    sets = [Labels.from_dict({"__name__": "m", "z": "1", "a": str(i)}) for i in range(10)]
    batch = decode_write_request(encode_write_request(_batch(sets)))
    assert batch.labels.built == 0  # type: ignore[attr-defined]
    assert batch.labels[3] == sets[3] and batch.labels.built == 1  # type: ignore[attr-defined]
    assert batch.labels[-1] == sets[-1]
    assert batch.labels[2:4] == sets[2:4]
    assert list(batch.labels) == sets and batch.labels == sets


def test_invalid_utf8_label_is_rejected_at_decode_not_when_labels_are_built() -> None:
    wr = pb.WriteRequest()
    ts = wr.timeseries.add()
    lab = ts.labels.add()
    lab.name = "__name__"
    lab.value = "ok"
    ts.samples.add(value=1.0, timestamp=5)
    raw = bytearray(wr.SerializeToString())
    raw[raw.index(b"ok")] = 0xFF
    with pytest.raises(ProtocolError, match="UTF-8"):
        decode_write_request(bytes(raw))


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (payloads here stay under 128 bytes)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def _request_with_value(value: bytes) -> bytes:
    """A remote-write 1.0 request whose one series has label ``v`` = ``value``, raw bytes."""
    name = _field(1, b"__name__") + _field(2, b"ok")
    label = _field(1, b"v") + _field(2, value)
    sample = b"\x09" + struct.pack("<d", 1.0) + b"\x10\x05"
    return _field(1, _field(1, name) + _field(1, label) + _field(2, sample))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=12), st.text(max_size=6).map(str.encode)))
def test_utf8_check_agrees_with_python(data: bytes) -> None:
    value = b"x" + data + b"y"
    try:
        text = value.decode()
    except UnicodeDecodeError:
        with pytest.raises(ProtocolError, match="UTF-8"):
            decode_write_request(_request_with_value(value))
    else:
        batch = decode_write_request(_request_with_value(value))
        assert batch.labels[0] == Labels.from_dict({"__name__": "ok", "v": text})
