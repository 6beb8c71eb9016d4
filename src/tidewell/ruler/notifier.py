"""Alert notifications to Alertmanager's v2 API, as Prometheus's notifier sends them.

After each evaluation of an alerting rule, alerts that need sending (firing and
not sent within ``-ruler.resend-delay``, or resolved since last sent) go on a
bounded queue (``-ruler.notification-queue-capacity``; the oldest are dropped
when full, as in Prometheus). A sender loop posts them in batches to every
``-ruler.alertmanager-url`` at ``/api/v2/alerts``, with the tenant in
``X-Scope-OrgID``, retrying a failed post a few times with backoff before
counting the batch as dropped. Metrics are Mimir's ``cortex_prometheus_notifications_*``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from tidewell.ruler import metrics
from tidewell.ruler.state import INACTIVE, PENDING, Alert, RuleState
from tidewell.util.services import Supervisor

__all__ = ["MAX_BATCH", "Notifier"]

log = logging.getLogger("tidewell.ruler.notifier")

MAX_BATCH = 256
RETRIES = 3
BACKOFF_S = 0.5


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _needs_sending(a: Alert, ts: float, resend_delay: float) -> bool:
    if a.state == PENDING:
        return False
    if a.resolved_at > a.last_sent_at:
        return True
    return a.last_sent_at + resend_delay < ts


class Notifier:
    def __init__(self, urls: list[str], *, capacity: int = 10000, timeout: float = 10.0,
                 external_url: str = "") -> None:
        self.urls = urls
        self.capacity = capacity
        self.external_url = external_url
        self.queue: deque[tuple[str, dict[str, Any]]] = deque()
        self.wakeup = asyncio.Event()
        self.client = httpx.AsyncClient(timeout=timeout)
        self.supervisor = Supervisor("ruler-notifier")

    async def start(self) -> None:
        self.supervisor.spawn("send", self._run)

    async def stop(self) -> None:
        await self.supervisor.stop()
        await self.client.aclose()

    def send_alerts(self, tenant: str, rs: RuleState, ts: float, delta: float,
                    resend_delay: float) -> None:
        """Queue the rule's alerts that need sending (Prometheus's ``sendAlerts``)."""
        for a in rs.alerts.values():
            if not _needs_sending(a, ts, resend_delay):
                continue
            a.last_sent_at = ts
            a.valid_until = ts + 4 * delta
            body: dict[str, Any] = {
                "labels": a.labels, "annotations": a.annotations,
                "startsAt": _rfc3339(a.fired_at or a.active_at),
                "endsAt": _rfc3339(a.resolved_at if a.state == INACTIVE else a.valid_until),
                "generatorURL": self.generator_url(rs.rule.expr),
            }
            self._enqueue(tenant, body)

    def generator_url(self, expr: str) -> str:
        """Prometheus's link back to the expression: ``<external URL>/graph?g0.expr=…``."""
        if not self.external_url:
            return ""
        query = urlencode({"g0.expr": expr, "g0.tab": "1"})
        return f"{self.external_url.rstrip('/')}/graph?{query}"

    def _enqueue(self, tenant: str, alert: dict[str, Any]) -> None:
        metrics.NOTIFICATIONS_QUEUE_CAPACITY.labels(tenant).set(self.capacity)
        if len(self.queue) >= self.capacity:
            old_tenant, _ = self.queue.popleft()
            metrics.NOTIFICATIONS_DROPPED.labels(old_tenant).inc()
        self.queue.append((tenant, alert))
        metrics.NOTIFICATIONS_QUEUE_LENGTH.labels(tenant).set(len(self.queue))
        self.wakeup.set()

    async def _run(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.queue:
                batch: dict[str, list[dict[str, Any]]] = {}
                for _ in range(min(MAX_BATCH, len(self.queue))):
                    tenant, alert = self.queue.popleft()
                    batch.setdefault(tenant, []).append(alert)
                for tenant, alerts in batch.items():
                    metrics.NOTIFICATIONS_QUEUE_LENGTH.labels(tenant).set(len(self.queue))
                    await self._send(tenant, alerts)

    async def _send(self, tenant: str, alerts: list[dict[str, Any]]) -> None:
        metrics.NOTIFICATIONS_ALERTMANAGERS.labels(tenant).set(len(self.urls))
        delivered = False
        for url in self.urls:
            if await self._post(tenant, url, alerts):
                delivered = True
        if not delivered:
            metrics.NOTIFICATIONS_DROPPED.labels(tenant).inc(len(alerts))

    async def _post(self, tenant: str, url: str, alerts: list[dict[str, Any]]) -> bool:
        for attempt in range(RETRIES):
            started = time.perf_counter()
            try:
                resp = await self.client.post(f"{url}/api/v2/alerts", json=alerts,
                                              headers={"X-Scope-OrgID": tenant})
                ok = resp.status_code // 100 == 2
                err = "" if ok else f"{resp.status_code} {resp.text[:200]}"
            except httpx.HTTPError as exc:
                ok, err = False, f"{type(exc).__name__}: {exc}"
            metrics.NOTIFICATIONS_LATENCY.labels(tenant, url).observe(
                time.perf_counter() - started)
            if ok:
                metrics.NOTIFICATIONS_SENT.labels(tenant, url).inc(len(alerts))
                return True
            metrics.NOTIFICATIONS_ERRORS.labels(tenant, url).inc()
            log.warning("error sending alerts", extra={"fields": {
                "user": tenant, "alertmanager": url, "attempt": attempt + 1, "err": err}})
            if attempt + 1 < RETRIES:
                await asyncio.sleep(BACKOFF_S * 2 ** attempt)
        return False
