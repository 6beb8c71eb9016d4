"""Mimir's per-series validation messages, reasons and the error carrying them.

The checks themselves run compiled over raw bytes (``kernels``); this module
turns a failure code into the exact message Mimir returns, and names the
``cortex_discarded_samples_total`` reason.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from tidewell.distributor import kernels as k
from tidewell.model import pairs_string

__all__ = [
    "ValidationFailure",
    "exemplar_discard_reason",
    "format_failure",
    "histogram_failure",
    "reason_of",
]

_PREFIX = "err-mimir-"


def _msg(id_: str, text: str) -> str:
    return f"{text} ({_PREFIX}{id_})"


def _limit_msg(id_: str, text: str, flag: str) -> str:
    return (
        f"{text} ({_PREFIX}{id_}). To adjust the related per-tenant limit, configure -{flag}, "
        "or contact your service administrator."
    )


# code -> (error id, discarded-samples reason)
_IDS = {
    k.V_MISSING_METRIC_NAME: "missing-metric-name",
    k.V_INVALID_METRIC_NAME: "metric-name-invalid",
    k.V_MAX_LABEL_NAMES: "max-label-names-per-series",
    k.V_MAX_LABEL_NAMES_INFO: "max-label-names-per-info-series",
    k.V_INVALID_LABEL: "label-invalid",
    k.V_LABEL_NAME_TOO_LONG: "label-name-too-long",
    k.V_INVALID_LABEL_VALUE: "label-value-invalid",
    k.V_LABEL_VALUE_TOO_LONG: "label-value-too-long",
    k.V_DUPLICATE_LABEL_NAMES: "duplicate-label-names",
}
V_TOO_FAR_IN_FUTURE = 20
V_TOO_FAR_IN_PAST = 21
V_INVALID_HISTOGRAM = 22
"""A native histogram of the series was refused; its reason and message are per series."""
V_OUT_OF_BOUNDS = 23
"""Every sample of the series is older than its ingester head still accepts."""
_IDS[V_TOO_FAR_IN_FUTURE] = "too-far-in-future"
_IDS[V_TOO_FAR_IN_PAST] = "too-far-in-past"
_IDS[V_OUT_OF_BOUNDS] = "sample-timestamp-too-old"

EXEMPLAR_MAX_LABEL_SET_LENGTH = 128


def reason_of(code: int) -> str:
    if code == V_OUT_OF_BOUNDS:  # the ingester's reason, as it would have counted it
        return _IDS[code]
    return _IDS[code].replace("-", "_")


def _t(s: str, n: int = 200) -> str:
    """Go's ``%.200s``: at most n characters."""
    return s[:n]


def _non_ascii_removed(s: str) -> str:
    out = "".join(ch for ch in s if ord(ch) < 128)
    return out + " (non-ascii characters removed)" if out != s else out


@dataclass(slots=True)
class ValidationFailure:
    """One rejected series: why (reason label) and what the client is told."""

    reason: str
    message: str
    samples: int


def format_failure(
    code: int,
    pairs: list[tuple[str, str]],
    bad: int,
    *,
    max_label_names: int,
    max_label_names_info: int,
    timestamp: int = 0,
) -> str:
    """The exact message Mimir returns for a series failing with ``code``."""
    metric = next((v for n, v in pairs if n == "__name__"), "")
    series = pairs_string(pairs)
    if code == k.V_MISSING_METRIC_NAME:
        return _msg(_IDS[code], "received series has no metric name")
    if code == k.V_INVALID_METRIC_NAME:
        return _msg(
            _IDS[code],
            f"received a series with invalid metric name: '{_t(_non_ascii_removed(metric))}'",
        )
    if code in (k.V_MAX_LABEL_NAMES, k.V_MAX_LABEL_NAMES_INFO):
        ellipsis = "\u2026" if len(series) > 200 else ""
        info = code == k.V_MAX_LABEL_NAMES_INFO
        limit = max_label_names_info if info else max_label_names
        what = "an info series" if info else "a series"
        flag = (
            "validation.max-label-names-per-info-series"
            if info
            else "validation.max-label-names-per-series"
        )
        return _limit_msg(
            _IDS[code],
            f"received {what} whose number of labels exceeds the limit "
            f"(actual: {len(pairs)}, limit: {limit}) series: '{_t(series)}{ellipsis}'",
            flag,
        )
    name, value = pairs[bad] if 0 <= bad < len(pairs) else ("", "")
    if code == k.V_INVALID_LABEL:
        return _msg(
            _IDS[code],
            f"received a series with an invalid label: '{_t(name)}' series: '{_t(series)}'",
        )
    if code == k.V_LABEL_NAME_TOO_LONG:
        return _limit_msg(
            _IDS[code],
            "received a series whose label name length exceeds the limit, "
            f"label: '{_t(name)}' series: '{_t(series)}'",
            "validation.max-length-label-name",
        )
    if code == k.V_INVALID_LABEL_VALUE:
        return _msg(
            _IDS[code],
            f"received a series with invalid value in label '{_t(name)}': '{_t(value)}' "
            f"metric: '{_t(metric)}'",
        )
    if code == k.V_LABEL_VALUE_TOO_LONG:
        return _limit_msg(
            _IDS[code],
            "received a series whose label value length exceeds the limit, "
            f"label: '{name}', value: '{_t(value)}' (truncated) series: '{_t(series)}'",
            "validation.max-length-label-value",
        )
    if code == k.V_DUPLICATE_LABEL_NAMES:
        return _msg(
            _IDS[code],
            "received a series with duplicate label name, "
            f"label: '{_t(name)}' series: '{_t(series)}'",
        )
    if code == V_TOO_FAR_IN_FUTURE:
        return _limit_msg(
            _IDS[code],
            "received a sample whose timestamp is too far in the future, "
            f"timestamp: {timestamp} series: '{_t(metric)}'",
            "validation.create-grace-period",
        )
    if code == V_TOO_FAR_IN_PAST:
        return _limit_msg(
            _IDS[code],
            "received a sample whose timestamp is too far in the past, "
            f"timestamp: {timestamp} series: '{_t(metric)}'",
            "validation.past-grace-period",
        )
    if code == V_OUT_OF_BOUNDS:
        return _msg(
            "sample-timestamp-too-old",
            "the sample has been rejected because its timestamp is too old: the newest "
            f"sample of the series, timestamp: {timestamp}, is older than what its partition's "
            "ingester head accepts (half a block range, -blocks-storage.tsdb.block-ranges-period, "
            "before the head's newest sample, out-of-order window aside; see "
            f"-ingester.out-of-order-time-window) series: '{_t(metric)}'",
        )
    raise ValueError(f"unknown validation code {code}")


def _rfc3339nano(ms: int) -> str:
    """Go's ``time.RFC3339Nano`` of a UTC millisecond timestamp (no trailing zeros)."""
    t = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.UTC)
    frac = f"{ms % 1000:03d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def histogram_failure(
    kind: str, pairs: list[tuple[str, str]], timestamp: int, *, schema: int = 0,
    problem_id: str = "", problem: str = "", buckets: int = 0, limit: int = 0,
) -> tuple[str, str]:
    """(discard reason, message) of a refused native histogram, as Mimir words it.

    ``kind``: ``schema`` (invalid schema), ``invalid`` (Prometheus's ``Validate``
    refused it: ``problem_id``/``problem``), ``too_many_buckets`` (limit, no
    reduction), ``not_reducible`` or ``custom_not_reducible``.
    """
    series = pairs_string(pairs)
    if kind == "schema":
        return "invalid_native_histogram_schema", _msg(
            "invalid-native-histogram-schema",
            f"received a native histogram sample with an invalid schema: {schema}")
    if kind == "invalid":
        return "invalid_native_histogram", _msg(
            problem_id, f"err: {problem}. timestamp={_rfc3339nano(timestamp)}, series={series}")
    text = {
        "too_many_buckets": ("max-native-histogram-buckets",
                             "received a native histogram sample with too many buckets"),
        "not_reducible": ("not-reducible-native-histogram",
                          "received a native histogram sample with too many buckets and cannot "
                          "reduce"),
        "custom_not_reducible": ("native-histogram-custom-buckets-not-reducible",
                                 "received a native histogram sample with more custom buckets "
                                 "than the limit"),
    }[kind]
    return "max_native_histogram_buckets", _msg(
        text[0], f"{text[1]}, timestamp: {timestamp} series: {series}, buckets: {buckets}, "
        f"limit: {limit}")


def exemplar_discard_reason(
    labels: list[tuple[str, str]], timestamp: int, min_ts: int = 0, max_ts: int = 2**63 - 1
) -> str | None:
    """Why Mimir would silently drop this exemplar (``cortex_discarded_exemplars_total``).

    ``min_ts``/``max_ts``: Mimir drops exemplars older than 5 minutes before the
    request's earliest sample, and newer than now + the creation grace period.
    """
    if not labels:
        return "exemplar_labels_missing"
    if timestamp == 0:
        return "exemplar_timestamp_invalid"
    if sum(len(n) + len(v) for n, v in labels) > EXEMPLAR_MAX_LABEL_SET_LENGTH:
        return "exemplar_labels_too_long"
    if not any(n and v for n, v in labels):
        return "exemplar_labels_blank"
    if timestamp < min_ts:
        return "exemplar_too_old"
    if timestamp > max_ts:
        return "exemplar_too_far_in_future"
    return None
