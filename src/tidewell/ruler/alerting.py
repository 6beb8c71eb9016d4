"""Alerting rules: Prometheus's alert state machine, ``ALERTS`` series and ``for`` restore.

One evaluation turns the query result into alerts keyed by label set: new ones
start *pending*, become *firing* once active for ``for``, keep firing for
``keep_firing_for`` after the condition stops, then turn *inactive* (resolved)
and are kept 15 minutes so Alertmanager hears they resolved. Every active alert
yields ``ALERTS{alertname, alertstate, …} 1`` and ``ALERTS_FOR_STATE{alertname, …}
<activeAt seconds>``; the group writes them like recording-rule results, stale
markers included, so a restarted ruler can restore ``for`` state from them.
"""

from __future__ import annotations

from collections.abc import Mapping

from tidewell.model.errors import TidewellError
from tidewell.model.labels import METRIC_NAME
from tidewell.ruler.querying import Sample, SeriesSamples
from tidewell.ruler.rulefmt import Rule
from tidewell.ruler.state import FIRING, INACTIVE, PENDING, Alert, RuleState
from tidewell.ruler.template import AlertTemplateData, TemplateError, expand

__all__ = ["ALERTS", "ALERTS_FOR_STATE", "RESOLVED_RETENTION", "alert_samples", "apply_result",
           "restore_for_state"]

ALERTS = "ALERTS"
ALERTS_FOR_STATE = "ALERTS_FOR_STATE"
ALERT_NAME = "alertname"
ALERT_STATE = "alertstate"
RESOLVED_RETENTION = 15 * 60.0

Labels = tuple[tuple[str, str], ...]


class DuplicateLabelSetError(TidewellError):
    pass


def _expand(text: str, data: AlertTemplateData, rule: Rule) -> str:
    try:
        return expand(text, data, name=f"__alert_{rule.alert}")
    except TemplateError as exc:
        return f"<error expanding template: {exc}>"


def apply_result(rs: RuleState, result: list[Sample], ts: float, *,
                 external_labels: Mapping[str, str], external_url: str) -> None:
    """Update the rule's alerts from one query result at ``ts`` (seconds)."""
    rule = rs.rule
    seen: dict[Labels, Alert] = {}
    for s in result:
        metric = {k: v for k, v in s.labels if k != METRIC_NAME}
        data = AlertTemplateData(metric, s.value, external_labels, external_url)
        labels = dict(metric)
        for k, v in rule.labels.items():
            value = _expand(v, data, rule)
            if value:
                labels[k] = value
            else:
                labels.pop(k, None)
        labels[ALERT_NAME] = rule.alert
        key = tuple(sorted(labels.items()))
        if key in seen:
            raise DuplicateLabelSetError(
                "vector contains metrics with the same labelset after applying alert labels")
        annotations = {k: _expand(v, data, rule) for k, v in rule.annotations.items()}
        seen[key] = Alert(labels=dict(key), annotations=annotations, value=s.value,
                          active_at=ts)
    for key, fresh in seen.items():
        old = rs.alerts.get(key)
        if old is not None and old.state != INACTIVE:
            old.value, old.annotations = fresh.value, fresh.annotations
        else:
            rs.alerts[key] = fresh
    for key, a in list(rs.alerts.items()):
        if key not in seen:
            if a.state == FIRING and rule.keep_firing_for > 0:
                if not a.keep_firing_since:
                    a.keep_firing_since = ts
                if ts - a.keep_firing_since < rule.keep_firing_for:
                    continue
            if a.state == PENDING or (a.resolved_at and ts - a.resolved_at > RESOLVED_RETENTION):
                del rs.alerts[key]
            if a.state != INACTIVE:
                a.state, a.resolved_at = INACTIVE, ts
            continue
        a.keep_firing_since = 0.0
        if a.state == PENDING and ts - a.active_at >= rule.for_:
            a.state, a.fired_at = FIRING, ts


def alert_samples(rs: RuleState) -> list[tuple[Labels, float]]:
    """``ALERTS`` and ``ALERTS_FOR_STATE`` samples of the rule's active alerts."""
    out: list[tuple[Labels, float]] = []
    for a in rs.alerts.values():
        if a.state == INACTIVE:
            continue
        base = {k: v for k, v in a.labels.items()}
        out.append((tuple(sorted({**base, METRIC_NAME: ALERTS, ALERT_STATE: a.state}.items())),
                    1.0))
        out.append((tuple(sorted({**base, METRIC_NAME: ALERTS_FOR_STATE}.items())),
                    float(int(a.active_at))))
    return out


def for_state_selector(rule: Rule) -> str:
    """The series a restore reads: this rule's ``ALERTS_FOR_STATE``."""
    name = rule.alert.replace("\\", "\\\\").replace('"', '\\"')
    return f'{ALERTS_FOR_STATE}{{{ALERT_NAME}="{name}"}}'


def restore_for_state(rs: RuleState, history: list[SeriesSamples], ts: float, *,
                      grace_period: float) -> int:
    """Prometheus's ``RestoreForState`` for one rule after its first evaluation.

    For each pending alert, the last ``ALERTS_FOR_STATE`` sample before the
    restart gives when it became active (the value) and when the ruler went down
    (the timestamp); time spent down does not count towards ``for``, and an alert
    that would fire within ``grace_period`` of the restart waits that long.
    Returns how many alerts were restored.
    """
    rule = rs.rule
    last: dict[Labels, tuple[float, float]] = {}
    for s in history:
        points = [p for p in s.points if p[0] < ts]
        if points:
            key = tuple(sorted((k, v) for k, v in s.labels if k != METRIC_NAME))
            last[key] = points[-1]
    restored = 0
    for key, a in rs.alerts.items():
        if a.state == INACTIVE or key not in last:
            continue
        down_at, active_at = last[key]
        remaining = rule.for_ - (down_at - active_at)
        if remaining <= 0:
            pass
        elif remaining < grace_period:
            active_at = ts + grace_period - rule.for_
        else:
            active_at += ts - down_at
        a.active_at = active_at
        restored += 1
    return restored
