"""One evaluation of one rule group, as Prometheus's ``Group.Eval`` does it.

Rules run in order at the group's timestamp ``ts``; as in Prometheus,
``query_offset`` moves the query *and the written samples* to ``ts - offset``
(alert state times stay at ``ts``). Each rule's query goes to the query-frontend; a rule reading a
series an earlier rule of the group records (dependency analysis on the parsed
expression, as Mimir does) asks for strong read consistency so it sees that
rule's fresh output. Each rule's output — recorded samples, or ``ALERTS`` and
``ALERTS_FOR_STATE`` — with stale markers for series the rule wrote last time
but not now, is pushed through the distributor: in one request per group
evaluation, or before the first rule that reads the output of earlier ones.
A failing rule is recorded (health ``err``, ``lastError``, failure counter) and
the group goes on, as in Prometheus.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from tidewell.distributor.errors import PushError
from tidewell.model.errors import TidewellError
from tidewell.model.labels import METRIC_NAME
from tidewell.promql.nodes import VectorSelector, walk
from tidewell.promql.parser import parse as parse_promql
from tidewell.ruler import metrics
from tidewell.ruler.alerting import (
    ALERTS,
    ALERTS_FOR_STATE,
    DuplicateLabelSetError,
    alert_samples,
    apply_result,
    for_state_selector,
    restore_for_state,
)
from tidewell.ruler.notifier import Notifier
from tidewell.ruler.output import STALE, Pusher, Value, write_request
from tidewell.ruler.querying import QueryError, RuleQuerier, Sample
from tidewell.ruler.rulefmt import Rule, RuleGroup
from tidewell.ruler.state import GroupState, RuleState

__all__ = ["EvaluationOptions", "GroupEvaluator", "new_group_state", "strong_rules"]

log = logging.getLogger("tidewell.ruler")

Labels = tuple[tuple[str, str], ...]


class RuleLimitError(TidewellError):
    pass


def _reads(rule: Rule) -> tuple[set[str], bool]:
    """Metric names the rule's expression selects, and whether some selector has no name."""
    names: set[str] = set()
    unnamed = False
    for node, _ in walk(parse_promql(rule.expr)):
        if isinstance(node, VectorSelector):
            if node.name:
                names.add(node.name)
            else:
                eq = [m.value for m in node.matchers
                      if m.name == METRIC_NAME and m.type.value == "="]
                names.update(eq)
                unnamed |= not eq
    return names, unnamed


def strong_rules(group: RuleGroup) -> set[int]:
    """Indexes of the rules that read an earlier rule's output in the same group."""
    out: set[int] = set()
    written: set[str] = set()
    for i, rule in enumerate(group.rules):
        names, unnamed = _reads(rule)
        if written and (unnamed or names & written):
            out.add(i)
        written.add(rule.record) if rule.record else written.update((ALERTS, ALERTS_FOR_STATE))
    return out


def new_group_state(tenant: str, namespace: str, group: RuleGroup, default_interval: float,
                    previous: GroupState | None = None) -> GroupState:
    """State for a (new or changed) group; a changed group keeps the state of its rules
    that still exist (same kind and name), as Prometheus's ``CopyState``."""
    gs = GroupState(tenant, namespace, group, group.interval or default_interval,
                    [RuleState(r) for r in group.rules])
    gs.strong = strong_rules(group)
    if previous is not None:
        old = {(rs.rule.record, rs.rule.alert): rs for rs in previous.rules}
        for rs in gs.rules:
            prev = old.pop((rs.rule.record, rs.rule.alert), None)
            if prev is not None:
                rs.alerts, rs.last_series, rs.restored = prev.alerts, prev.last_series, True
                rs.health, rs.last_error = prev.health, prev.last_error
        gs.evaluations = previous.evaluations
    return gs


@dataclass
class EvaluationOptions:
    for_grace_period: float = 120.0
    for_outage_tolerance: float = 3600.0
    resend_delay: float = 60.0
    external_labels: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""


class GroupEvaluator:
    """Evaluates groups: reads through ``querier``, writes through ``push``."""

    def __init__(self, querier: RuleQuerier, push: Pusher, notifier: Notifier | None,
                 options: EvaluationOptions) -> None:
        self.querier = querier
        self.push = push
        self.notifier = notifier
        self.options = options

    async def evaluate(self, gs: GroupState, ts: float) -> None:
        started = time.perf_counter()
        group_label = f"{gs.namespace};{gs.group.name}"
        user = gs.tenant
        first = gs.evaluations == 0
        write_ts = ts - (gs.group.query_offset or 0.0)
        samples = 0
        pending: list[tuple[RuleState, list[tuple[Labels, Value]]]] = []
        for i, rs in enumerate(gs.rules):
            if i in gs.strong:  # it reads what the rules before it wrote: write that first
                await self._flush(gs, pending, write_ts)
            t0 = time.perf_counter()
            metrics.EVALUATIONS.labels(user, group_label).inc()
            try:
                out = await self._rule(gs, i, rs, ts, first)
                pending.append((rs, self._with_stale(rs, out)))
                samples += len(out)
                rs.health, rs.last_error = "ok", ""
            except (QueryError, DuplicateLabelSetError, RuleLimitError) as exc:
                self._failed(gs, rs, exc)
            rs.last_evaluation = ts
            rs.evaluation_time = time.perf_counter() - t0
            metrics.EVALUATION_DURATION.labels(user).observe(rs.evaluation_time)
        await self._flush(gs, pending, write_ts)
        gs.evaluations += 1
        gs.last_evaluation = ts
        gs.evaluation_time = time.perf_counter() - started
        metrics.GROUP_DURATION.labels(user).observe(gs.evaluation_time)
        metrics.GROUP_LAST_DURATION.labels(user, group_label).set(gs.evaluation_time)
        metrics.GROUP_LAST_EVALUATION.labels(user, group_label).set(ts)
        metrics.GROUP_SAMPLES.labels(user, group_label).set(samples)

    def _failed(self, gs: GroupState, rs: RuleState, exc: Exception) -> None:
        group_label = f"{gs.namespace};{gs.group.name}"
        metrics.EVALUATION_FAILURES.labels(gs.tenant, group_label).inc()
        rs.health, rs.last_error = "err", str(exc)
        log.warning("rule evaluation failed", extra={"fields": {
            "user": gs.tenant, "group": group_label, "rule": rs.rule.name, "err": str(exc)}})

    async def _flush(self, gs: GroupState, pending: list[tuple[RuleState, list]],
                     ts: float) -> None:
        """Write the pending rules' output as one request; a refusal fails those rules."""
        batch = [s for _, out in pending for s in out]
        try:
            if batch:
                await self.push(gs.tenant, write_request(batch, round(ts * 1000)))
        except PushError as exc:
            for rs, _ in pending:
                self._failed(gs, rs, exc)
        pending.clear()

    async def _rule(self, gs: GroupState, i: int, rs: RuleState, ts: float, first: bool
                    ) -> list[tuple[Labels, Value]]:
        rule, group = rs.rule, gs.group
        query_ts = ts - (group.query_offset or 0.0)
        # An alert with `for` reads strongly on its first evaluation here (a start, or a
        # group taken over): the alerts it restores must see everything written before.
        restoring = first and bool(rule.alert) and rule.for_ > 0
        result = await self.querier.instant(gs.tenant, rule.expr, query_ts,
                                            strong=restoring or i in gs.strong)
        if rule.record:
            out = self._recorded(rule, group, result)
        else:
            self._check_limit(group, len(result), "alerts")
            labels_rule = rule if not group.labels else Rule(
                rule.expr, alert=rule.alert, for_=rule.for_,
                keep_firing_for=rule.keep_firing_for,
                labels={**group.labels, **rule.labels}, annotations=rule.annotations)
            rs_view = rs if labels_rule is rule else _with_rule(rs, labels_rule)
            apply_result(rs_view, result, ts, external_labels=self.options.external_labels,
                         external_url=self.options.external_url)
            if not rs.restored:
                await self._restore(gs, rs, ts)
            out = alert_samples(rs) if rs.restored else []
            if self.notifier is not None:
                self.notifier.send_alerts(gs.tenant, rs, ts, max(self.options.resend_delay,
                                                                  gs.interval),
                                          self.options.resend_delay)
        return out

    async def _restore(self, gs: GroupState, rs: RuleState, ts: float) -> None:
        """Restore ``for`` state from ``ALERTS_FOR_STATE`` (first evaluation only)."""
        opts = self.options
        if rs.rule.for_ >= opts.for_grace_period and rs.alerts:
            window = f"{max(1, round(opts.for_outage_tolerance))}s"
            history = await self.querier.series(
                gs.tenant, f"{for_state_selector(rs.rule)}[{window}]", ts)
            n = restore_for_state(rs, history, ts, grace_period=opts.for_grace_period)
            if n:
                log.info("restored alert for-state", extra={"fields": {
                    "user": gs.tenant, "alert": rs.rule.alert, "alerts": n}})
        rs.restored = True

    def _check_limit(self, group: RuleGroup, n: int, what: str) -> None:
        if group.limit > 0 and n > group.limit:
            raise RuleLimitError(f"exceeded limit of {group.limit} with {n} {what}")

    def _recorded(self, rule: Rule, group: RuleGroup, result: list[Sample]
                  ) -> list[tuple[Labels, Value]]:
        extra = {**group.labels, **rule.labels}
        out: dict[Labels, Value] = {}
        for s in result:
            labels = dict(s.labels)
            labels[METRIC_NAME] = rule.record
            for k, v in extra.items():
                if v:
                    labels[k] = v
                else:
                    labels.pop(k, None)
            key = tuple(sorted(labels.items()))
            if key in out:
                raise DuplicateLabelSetError(
                    "vector contains metrics with the same labelset after applying rule labels")
            out[key] = s.value if s.histogram is None else s.histogram
        self._check_limit(group, len(out), "series")
        return list(out.items())

    @staticmethod
    def _with_stale(rs: RuleState, out: list[tuple[Labels, Value]]
                    ) -> list[tuple[Labels, Value]]:
        """``out`` plus stale markers for the series the rule wrote last time but not now."""
        current = {labels for labels, _ in out}
        stale = [(labels, STALE) for labels in rs.last_series - current]
        rs.last_series = current
        return [*out, *stale]

    async def mark_stale(self, gs: GroupState, ts: float) -> None:
        """A group that stops here (deleted, moved): its series end now, as in Prometheus."""
        batch = [s for rs in gs.rules for s in self._with_stale(rs, [])]
        if not batch:
            return
        try:
            await self.push(gs.tenant, write_request(
                batch, round((ts - (gs.group.query_offset or 0.0)) * 1000)))
        except PushError as exc:
            log.warning("stale markers not written", extra={"fields": {
                "user": gs.tenant, "group": gs.group.name, "err": str(exc)}})


def _with_rule(rs: RuleState, rule: Rule) -> RuleState:
    """A view of ``rs`` evaluating ``rule`` (group labels merged) over the same alerts."""
    view = RuleState(rule)
    view.alerts = rs.alerts
    return view
