"""Ruler metrics with Mimir's names (Prometheus's rule-manager and notifier metrics,
prefixed ``cortex_`` and labelled by ``user``; ``rule_group`` is ``namespace;group``).

Defined once at import so several rulers in one process share them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Summary

__all__ = [
    "EVALUATIONS",
    "EVALUATION_DURATION",
    "EVALUATION_FAILURES",
    "GROUP_DURATION",
    "GROUP_INTERVAL",
    "GROUP_ITERATIONS",
    "GROUP_ITERATIONS_MISSED",
    "GROUP_LAST_DURATION",
    "GROUP_LAST_EVALUATION",
    "GROUP_RULES",
    "GROUP_SAMPLES",
    "NOTIFICATIONS_ALERTMANAGERS",
    "NOTIFICATIONS_DROPPED",
    "NOTIFICATIONS_ERRORS",
    "NOTIFICATIONS_LATENCY",
    "NOTIFICATIONS_QUEUE_CAPACITY",
    "NOTIFICATIONS_QUEUE_LENGTH",
    "NOTIFICATIONS_SENT",
    "RULER_OWNED_GROUPS",
]

_G = ["user", "rule_group"]

EVALUATIONS = Counter("cortex_prometheus_rule_evaluations_total",
                      "The total number of rule evaluations.", _G)
EVALUATION_FAILURES = Counter("cortex_prometheus_rule_evaluation_failures_total",
                              "The total number of rule evaluation failures.", _G)
EVALUATION_DURATION = Summary("cortex_prometheus_rule_evaluation_duration_seconds",
                              "The duration for a rule to execute.", ["user"])
GROUP_DURATION = Summary("cortex_prometheus_rule_group_duration_seconds",
                         "The duration of rule group evaluations.", ["user"])
GROUP_ITERATIONS = Counter("cortex_prometheus_rule_group_iterations_total",
                           "The total number of scheduled rule group evaluations, whether "
                           "executed or missed.", _G)
GROUP_ITERATIONS_MISSED = Counter("cortex_prometheus_rule_group_iterations_missed_total",
                                  "The total number of rule group evaluations missed due to "
                                  "slow rule group evaluation.", _G)
GROUP_INTERVAL = Gauge("cortex_prometheus_rule_group_interval_seconds",
                       "The interval of a rule group.", _G)
GROUP_LAST_EVALUATION = Gauge("cortex_prometheus_rule_group_last_evaluation_timestamp_seconds",
                              "The timestamp of the last rule group evaluation in seconds.", _G)
GROUP_LAST_DURATION = Gauge("cortex_prometheus_rule_group_last_duration_seconds",
                            "The duration of the last rule group evaluation.", _G)
GROUP_RULES = Gauge("cortex_prometheus_rule_group_rules", "The number of rules.", _G)
GROUP_SAMPLES = Gauge("cortex_prometheus_last_evaluation_samples",
                      "The number of samples returned during the last rule group evaluation.",
                      _G)
RULER_OWNED_GROUPS = Gauge("cortex_ruler_rule_groups_owned",
                           "The number of rule groups this ruler evaluates.", ["user"])

_N = ["user", "alertmanager"]
NOTIFICATIONS_SENT = Counter("cortex_prometheus_notifications_sent_total",
                             "Total number of alerts sent.", _N)
NOTIFICATIONS_ERRORS = Counter("cortex_prometheus_notifications_errors_total",
                               "Total number of errors sending alert notifications.", _N)
NOTIFICATIONS_DROPPED = Counter("cortex_prometheus_notifications_dropped_total",
                                "Total number of alerts dropped due to errors when sending to "
                                "Alertmanager.", ["user"])
NOTIFICATIONS_LATENCY = Histogram("cortex_prometheus_notifications_latency_seconds",
                                  "Latency quantiles for sending alert notifications.", _N)
NOTIFICATIONS_QUEUE_LENGTH = Gauge("cortex_prometheus_notifications_queue_length",
                                   "The number of alert notifications in the queue.", ["user"])
NOTIFICATIONS_QUEUE_CAPACITY = Gauge("cortex_prometheus_notifications_queue_capacity",
                                     "The capacity of the alert notifications queue.", ["user"])
NOTIFICATIONS_ALERTMANAGERS = Gauge("cortex_prometheus_notifications_alertmanagers_discovered",
                                    "The number of alertmanagers discovered and active.",
                                    ["user"])
