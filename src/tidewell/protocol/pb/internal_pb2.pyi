from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SampleEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RAW: _ClassVar[SampleEncoding]
    XOR_CHUNKS: _ClassVar[SampleEncoding]
RAW: SampleEncoding
XOR_CHUNKS: SampleEncoding

class LabelMatcher(_message.Message):
    __slots__ = ("type", "name", "value")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        EQ: _ClassVar[LabelMatcher.Type]
        NEQ: _ClassVar[LabelMatcher.Type]
        RE: _ClassVar[LabelMatcher.Type]
        NRE: _ClassVar[LabelMatcher.Type]
    EQ: LabelMatcher.Type
    NEQ: LabelMatcher.Type
    RE: LabelMatcher.Type
    NRE: LabelMatcher.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    type: LabelMatcher.Type
    name: str
    value: str
    def __init__(self, type: _Optional[_Union[LabelMatcher.Type, str]] = ..., name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class ReadRequest(_message.Message):
    __slots__ = ("mint", "maxt", "matchers", "label_name", "limit", "max_series", "encoding", "block_ids", "max_samples")
    MINT_FIELD_NUMBER: _ClassVar[int]
    MAXT_FIELD_NUMBER: _ClassVar[int]
    MATCHERS_FIELD_NUMBER: _ClassVar[int]
    LABEL_NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_SERIES_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    BLOCK_IDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    mint: int
    maxt: int
    matchers: _containers.RepeatedCompositeFieldContainer[LabelMatcher]
    label_name: str
    limit: int
    max_series: int
    encoding: SampleEncoding
    block_ids: _containers.RepeatedScalarFieldContainer[str]
    max_samples: int
    def __init__(self, mint: _Optional[int] = ..., maxt: _Optional[int] = ..., matchers: _Optional[_Iterable[_Union[LabelMatcher, _Mapping]]] = ..., label_name: _Optional[str] = ..., limit: _Optional[int] = ..., max_series: _Optional[int] = ..., encoding: _Optional[_Union[SampleEncoding, str]] = ..., block_ids: _Optional[_Iterable[str]] = ..., max_samples: _Optional[int] = ...) -> None: ...

class SeriesSet(_message.Message):
    __slots__ = ("symbols", "label_counts", "label_refs", "sample_counts", "encoding", "timestamps", "values", "chunks", "chunk_ends", "hist_counts", "hist_chunks", "hist_chunk_ends", "hist_chunk_encodings")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    LABEL_COUNTS_FIELD_NUMBER: _ClassVar[int]
    LABEL_REFS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ENDS_FIELD_NUMBER: _ClassVar[int]
    HIST_COUNTS_FIELD_NUMBER: _ClassVar[int]
    HIST_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    HIST_CHUNK_ENDS_FIELD_NUMBER: _ClassVar[int]
    HIST_CHUNK_ENCODINGS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    label_counts: bytes
    label_refs: bytes
    sample_counts: bytes
    encoding: SampleEncoding
    timestamps: bytes
    values: bytes
    chunks: bytes
    chunk_ends: bytes
    hist_counts: bytes
    hist_chunks: bytes
    hist_chunk_ends: bytes
    hist_chunk_encodings: bytes
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., label_counts: _Optional[bytes] = ..., label_refs: _Optional[bytes] = ..., sample_counts: _Optional[bytes] = ..., encoding: _Optional[_Union[SampleEncoding, str]] = ..., timestamps: _Optional[bytes] = ..., values: _Optional[bytes] = ..., chunks: _Optional[bytes] = ..., chunk_ends: _Optional[bytes] = ..., hist_counts: _Optional[bytes] = ..., hist_chunks: _Optional[bytes] = ..., hist_chunk_ends: _Optional[bytes] = ..., hist_chunk_encodings: _Optional[bytes] = ...) -> None: ...

class SelectResponse(_message.Message):
    __slots__ = ("series", "truncated", "queried_blocks")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    QUERIED_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    series: SeriesSet
    truncated: bool
    queried_blocks: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, series: _Optional[_Union[SeriesSet, _Mapping]] = ..., truncated: _Optional[bool] = ..., queried_blocks: _Optional[_Iterable[str]] = ...) -> None: ...

class LabelsResponse(_message.Message):
    __slots__ = ("values", "truncated", "queried_blocks")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    QUERIED_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    truncated: bool
    queried_blocks: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ..., truncated: _Optional[bool] = ..., queried_blocks: _Optional[_Iterable[str]] = ...) -> None: ...

class WaitForOffsetRequest(_message.Message):
    __slots__ = ("end_offset", "timeout_seconds")
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    end_offset: int
    timeout_seconds: float
    def __init__(self, end_offset: _Optional[int] = ..., timeout_seconds: _Optional[float] = ...) -> None: ...

class ErrorResponse(_message.Message):
    __slots__ = ("message", "found_series", "found_samples")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FOUND_SERIES_FIELD_NUMBER: _ClassVar[int]
    FOUND_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    message: str
    found_series: int
    found_samples: int
    def __init__(self, message: _Optional[str] = ..., found_series: _Optional[int] = ..., found_samples: _Optional[int] = ...) -> None: ...
