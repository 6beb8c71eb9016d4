"""Notifications over real HTTP: a failed post is retried, a dead Alertmanager counts drops."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import REGISTRY

from tests.support.ports import free_port
from tidewell.ruler.notifier import Notifier
from tidewell.ruler.rulefmt import Rule
from tidewell.ruler.state import FIRING, Alert, RuleState


class FlakyAlertmanager(BaseHTTPRequestHandler):
    """Answers 503 to the first post, 200 afterwards; keeps what it was sent."""

    posts: list[tuple[str, list[dict]]] = []
    failures_left = 1

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        if cls.failures_left > 0:
            cls.failures_left -= 1
            self.send_response(503)
        else:
            cls.posts.append((self.headers["X-Scope-OrgID"], body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def firing_rule() -> RuleState:
    rs = RuleState(Rule("up == 0", alert="Down"))
    rs.alerts[(("alertname", "Down"),)] = Alert(
        labels={"alertname": "Down"}, annotations={"summary": "s"}, value=0.0,
        active_at=1000.0, state=FIRING, fired_at=1010.0)
    return rs


def test_failed_post_is_retried_and_delivered() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), FlakyAlertmanager)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    before = sample("cortex_prometheus_notifications_errors_total", user="t1", alertmanager=url)

    async def scenario() -> None:
        n = Notifier([url], capacity=10, timeout=5, external_url="http://ruler.example/")
        await n.start()
        rs = firing_rule()
        n.send_alerts("t1", rs, 1010.0, delta=60, resend_delay=60)
        n.send_alerts("t1", rs, 1020.0, delta=60, resend_delay=60)  # not due again yet
        for _ in range(100):
            if FlakyAlertmanager.posts:
                break
            await asyncio.sleep(0.05)
        await n.stop()

    try:
        asyncio.run(scenario())
    finally:
        server.shutdown()
    [(tenant, alerts)] = FlakyAlertmanager.posts
    assert tenant == "t1"
    assert alerts == [{"labels": {"alertname": "Down"}, "annotations": {"summary": "s"},
                       "startsAt": "1970-01-01T00:16:50.000Z",
                       "endsAt": "1970-01-01T00:20:50.000Z",
                       "generatorURL": "http://ruler.example/graph?g0.expr=up+%3D%3D+0&g0.tab=1"}]
    assert sample("cortex_prometheus_notifications_errors_total", user="t1",
                  alertmanager=url) == before + 1
    assert sample("cortex_prometheus_notifications_sent_total", user="t1",
                  alertmanager=url) == 1


def test_unreachable_alertmanager_drops_after_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    before = sample("cortex_prometheus_notifications_dropped_total", user="t2")

    async def scenario() -> None:
        n = Notifier([url], capacity=10, timeout=1)
        await n.start()
        n.send_alerts("t2", firing_rule(), 1010.0, delta=60, resend_delay=60)
        for _ in range(200):
            if sample("cortex_prometheus_notifications_dropped_total", user="t2") > before:
                break
            await asyncio.sleep(0.05)
        await n.stop()

    asyncio.run(scenario())
    assert sample("cortex_prometheus_notifications_dropped_total", user="t2") == before + 1
