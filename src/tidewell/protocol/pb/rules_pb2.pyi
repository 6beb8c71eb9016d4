import datetime

from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LabelPair(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class RuleGroupDesc(_message.Message):
    __slots__ = ("name", "namespace", "interval", "rules", "user", "options", "sourceTenants", "evaluationDelay", "align_evaluation_time_on_interval", "queryOffset")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCETENANTS_FIELD_NUMBER: _ClassVar[int]
    EVALUATIONDELAY_FIELD_NUMBER: _ClassVar[int]
    ALIGN_EVALUATION_TIME_ON_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    QUERYOFFSET_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    interval: _duration_pb2.Duration
    rules: _containers.RepeatedCompositeFieldContainer[RuleDesc]
    user: str
    options: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    sourceTenants: _containers.RepeatedScalarFieldContainer[str]
    evaluationDelay: _duration_pb2.Duration
    align_evaluation_time_on_interval: bool
    queryOffset: _duration_pb2.Duration
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., rules: _Optional[_Iterable[_Union[RuleDesc, _Mapping]]] = ..., user: _Optional[str] = ..., options: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., sourceTenants: _Optional[_Iterable[str]] = ..., evaluationDelay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., align_evaluation_time_on_interval: _Optional[bool] = ..., queryOffset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RuleDesc(_message.Message):
    __slots__ = ("expr", "record", "alert", "labels", "annotations", "keep_firing_for")
    EXPR_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    FOR_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIRING_FOR_FIELD_NUMBER: _ClassVar[int]
    expr: str
    record: str
    alert: str
    labels: _containers.RepeatedCompositeFieldContainer[LabelPair]
    annotations: _containers.RepeatedCompositeFieldContainer[LabelPair]
    keep_firing_for: _duration_pb2.Duration
    def __init__(self, expr: _Optional[str] = ..., record: _Optional[str] = ..., alert: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[LabelPair, _Mapping]]] = ..., annotations: _Optional[_Iterable[_Union[LabelPair, _Mapping]]] = ..., keep_firing_for: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., **kwargs) -> None: ...

class GroupOptions(_message.Message):
    __slots__ = ("limit", "labels")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    limit: int
    labels: _containers.RepeatedCompositeFieldContainer[LabelPair]
    def __init__(self, limit: _Optional[int] = ..., labels: _Optional[_Iterable[_Union[LabelPair, _Mapping]]] = ...) -> None: ...
