"""What the ruler knows about each group it evaluates: health, timings, active alerts.

Shared by the evaluator (which writes it), the read API and the status page
(which show it), so it lives apart from both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tidewell.ruler.rulefmt import Rule, RuleGroup

__all__ = ["Alert", "GroupState", "RuleState", "group_key"]

PENDING, FIRING, INACTIVE = "pending", "firing", "inactive"


def group_key(tenant: str, namespace: str, name: str) -> str:
    """One string per group, as Mimir keys groups in the ring (tenant, namespace, name)."""
    return f"{tenant}\x00{namespace}\x00{name}"


@dataclass
class Alert:
    """One alert instance of an alerting rule (one label set)."""

    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    active_at: float
    state: str = PENDING
    fired_at: float = 0.0
    resolved_at: float = 0.0
    last_sent_at: float = 0.0
    keep_firing_since: float = 0.0
    valid_until: float = 0.0


@dataclass
class RuleState:
    rule: Rule
    health: str = "unknown"
    last_error: str = ""
    last_evaluation: float = 0.0
    evaluation_time: float = 0.0
    alerts: dict[tuple[tuple[str, str], ...], Alert] = field(default_factory=dict)
    # Series written at the last evaluation: those missing next time get a stale marker.
    last_series: set[tuple[tuple[str, str], ...]] = field(default_factory=set)
    # An alerting rule writes ALERTS only once its ``for`` state was restored.
    restored: bool = False

    @property
    def state(self) -> str:
        states = {a.state for a in self.alerts.values()}
        return FIRING if FIRING in states else PENDING if PENDING in states else INACTIVE


@dataclass
class GroupState:
    tenant: str
    namespace: str
    group: RuleGroup
    interval: float
    rules: list[RuleState]
    last_evaluation: float = 0.0
    evaluation_time: float = 0.0
    evaluations: int = 0
    # Rules (by index) that read an earlier rule's output: they query with strong consistency.
    strong: set[int] = field(default_factory=set)

    @property
    def key(self) -> str:
        return group_key(self.tenant, self.namespace, self.group.name)
