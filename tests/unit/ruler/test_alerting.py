"""The alert state machine: pending → firing after ``for``, keep_firing_for, resolve, restore."""

from __future__ import annotations

from tidewell.ruler.alerting import alert_samples, apply_result, restore_for_state
from tidewell.ruler.evaluation import strong_rules
from tidewell.ruler.querying import Sample, SeriesSamples
from tidewell.ruler.rulefmt import Rule, RuleGroup, parse_group
from tidewell.ruler.state import RuleState

RULE = Rule("up == 0", alert="Down", for_=60, keep_firing_for=30,
            labels={"severity": "page", "inst": "{{ $labels.instance }}"},
            annotations={"summary": "{{ $labels.instance }} is down ({{ $value }})"})
DOWN = [Sample((("__name__", "up"), ("instance", "a"), ("job", "j")), 0.0)]


def step(rs: RuleState, result: list[Sample], ts: float) -> None:
    apply_result(rs, result, ts, external_labels={}, external_url="")


def test_pending_then_firing_then_kept_then_resolved() -> None:
    rs = RuleState(RULE, restored=True)
    step(rs, DOWN, 1000)
    [a] = rs.alerts.values()
    assert a.state == "pending" and a.active_at == 1000
    assert a.labels == {"alertname": "Down", "instance": "a", "job": "j", "severity": "page",
                        "inst": "a"}
    assert a.annotations == {"summary": "a is down (0)"}
    step(rs, DOWN, 1059)
    assert a.state == "pending"
    step(rs, DOWN, 1060)
    assert a.state == "firing" and a.fired_at == 1060
    step(rs, [], 1070)  # keep_firing_for 30s
    assert a.state == "firing" and a.keep_firing_since == 1070
    step(rs, [], 1100)
    assert a.state == "inactive" and a.resolved_at == 1100
    assert alert_samples(rs) == []


def test_alerts_series_as_prometheus_writes_them() -> None:
    rs = RuleState(RULE, restored=True)
    step(rs, DOWN, 1000.7)
    by_name = {dict(labels)["__name__"]: (dict(labels), v) for labels, v in alert_samples(rs)}
    labels, v = by_name["ALERTS"]
    assert (labels["alertstate"], labels["alertname"], v) == ("pending", "Down", 1.0)
    labels, v = by_name["ALERTS_FOR_STATE"]
    assert "alertstate" not in labels and v == 1000.0


def test_pending_alert_that_clears_is_forgotten() -> None:
    rs = RuleState(RULE, restored=True)
    step(rs, DOWN, 1000)
    step(rs, [], 1010)
    assert rs.alerts == {}


def test_restore_keeps_for_progress_minus_downtime() -> None:
    rs = RuleState(Rule("up == 0", alert="Down", for_=600), restored=False)
    step(rs, DOWN, 5000)  # first evaluation after a restart
    [(key, a)] = rs.alerts.items()
    # Before the restart: active since 4000, last written at 4300 (300 s of 600 spent).
    history = [SeriesSamples((("__name__", "ALERTS_FOR_STATE"), *key), [(4290, 4000),
                                                                         (4300, 4000)])]
    assert restore_for_state(rs, history, 5000, grace_period=120) == 1
    assert a.active_at == 4000 + (5000 - 4300)  # downtime does not count
    step(rs, DOWN, 5299)
    assert a.state == "pending"
    step(rs, DOWN, 5300)
    assert a.state == "firing"


def test_restore_within_grace_period_waits_the_grace_period() -> None:
    rs = RuleState(Rule("up == 0", alert="Down", for_=600))
    step(rs, DOWN, 5000)
    [(key, a)] = rs.alerts.items()
    history = [SeriesSamples((("__name__", "ALERTS_FOR_STATE"), *key), [(4300, 3750)])]
    restore_for_state(rs, history, 5000, grace_period=120)
    assert a.active_at == 5000 + 120 - 600


def test_dependency_analysis_marks_rules_reading_earlier_outputs() -> None:
    group = parse_group("name: g\nrules:\n"
                        "  - record: a\n    expr: sum(x)\n"
                        "  - record: b\n    expr: sum(y)\n"
                        "  - record: c\n    expr: a + 1\n"
                        "  - alert: A\n    expr: b > 1\n"
                        "  - record: d\n    expr: count(ALERTS)\n"
                        "  - record: e\n    expr: '{job=\"x\"}'\n")
    assert strong_rules(group) == {2, 3, 4, 5}
    assert strong_rules(RuleGroup("g", [Rule("x", record="r")])) == set()
