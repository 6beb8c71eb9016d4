from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Label(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Matcher(_message.Message):
    __slots__ = ("type", "name", "value")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        EQ: _ClassVar[Matcher.Type]
        NEQ: _ClassVar[Matcher.Type]
        RE: _ClassVar[Matcher.Type]
        NRE: _ClassVar[Matcher.Type]
    EQ: Matcher.Type
    NEQ: Matcher.Type
    RE: Matcher.Type
    NRE: Matcher.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    type: Matcher.Type
    name: str
    value: str
    def __init__(self, type: _Optional[_Union[Matcher.Type, str]] = ..., name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class MatcherSet(_message.Message):
    __slots__ = ("matchers",)
    MATCHERS_FIELD_NUMBER: _ClassVar[int]
    matchers: _containers.RepeatedCompositeFieldContainer[Matcher]
    def __init__(self, matchers: _Optional[_Iterable[_Union[Matcher, _Mapping]]] = ...) -> None: ...

class ExemplarsRequest(_message.Message):
    __slots__ = ("start", "end", "matcher_sets")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    MATCHER_SETS_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    matcher_sets: _containers.RepeatedCompositeFieldContainer[MatcherSet]
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ..., matcher_sets: _Optional[_Iterable[_Union[MatcherSet, _Mapping]]] = ...) -> None: ...

class Exemplar(_message.Message):
    __slots__ = ("labels", "value", "timestamp")
    LABELS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedCompositeFieldContainer[Label]
    value: float
    timestamp: int
    def __init__(self, labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ..., value: _Optional[float] = ..., timestamp: _Optional[int] = ...) -> None: ...

class SeriesExemplars(_message.Message):
    __slots__ = ("series_labels", "exemplars")
    SERIES_LABELS_FIELD_NUMBER: _ClassVar[int]
    EXEMPLARS_FIELD_NUMBER: _ClassVar[int]
    series_labels: _containers.RepeatedCompositeFieldContainer[Label]
    exemplars: _containers.RepeatedCompositeFieldContainer[Exemplar]
    def __init__(self, series_labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ..., exemplars: _Optional[_Iterable[_Union[Exemplar, _Mapping]]] = ...) -> None: ...

class ExemplarsResponse(_message.Message):
    __slots__ = ("series",)
    SERIES_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[SeriesExemplars]
    def __init__(self, series: _Optional[_Iterable[_Union[SeriesExemplars, _Mapping]]] = ...) -> None: ...

class MetadataRequest(_message.Message):
    __slots__ = ("limit", "limit_per_metric", "metric")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_PER_METRIC_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    limit: int
    limit_per_metric: int
    metric: str
    def __init__(self, limit: _Optional[int] = ..., limit_per_metric: _Optional[int] = ..., metric: _Optional[str] = ...) -> None: ...

class MetricMetadata(_message.Message):
    __slots__ = ("metric_family_name", "type", "help", "unit")
    METRIC_FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    metric_family_name: str
    type: int
    help: str
    unit: str
    def __init__(self, metric_family_name: _Optional[str] = ..., type: _Optional[int] = ..., help: _Optional[str] = ..., unit: _Optional[str] = ...) -> None: ...

class MetadataResponse(_message.Message):
    __slots__ = ("metadata",)
    METADATA_FIELD_NUMBER: _ClassVar[int]
    metadata: _containers.RepeatedCompositeFieldContainer[MetricMetadata]
    def __init__(self, metadata: _Optional[_Iterable[_Union[MetricMetadata, _Mapping]]] = ...) -> None: ...
