"""Alerting rules end to end: a real Alertmanager gets the alert, sees it resolve, and a
ruler restart keeps the ``for`` state (restored from ``ALERTS_FOR_STATE``)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import cramjam
import httpx
import pytest

from tests.e2e.conftest import TidewellProcess
from tests.support.peers import alertmanager_binary
from tests.support.ports import free_port
from tidewell.protocol.pb import prompb_pb2 as pb

TENANT = "team-a"
HEADERS = {"X-Scope-OrgID": TENANT}
GROUP = """name: alerts
interval: 1s
rules:
  - alert: Down
    expr: up == 0
    for: 3s
    labels: {severity: page}
    annotations: {summary: "{{ $labels.instance }} of {{ $labels.job }} is down"}
  - alert: SlowDown
    expr: up == 0
    for: 14s
"""
# SlowDown must still be pending, with more than the 2 s grace period to go, when the test
# stops Tidewell: Down fired and reached Alertmanager ~5 s after both went pending (7 s of
# slack for a loaded machine).


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    port, cluster_port = free_port(), free_port()
    (tmp_path / "am.yml").write_text(
        "route: {receiver: blackhole, group_wait: 1s}\nreceivers: [{name: blackhole}]\n")
    proc = subprocess.Popen(
        [alertmanager_binary(), f"--config.file={tmp_path / 'am.yml'}",
         f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{port}",
         f"--cluster.listen-address=127.0.0.1:{cluster_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{url}/api/v2/status", timeout=1).status_code == 200, 30,
                 "Alertmanager up")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = check()
            if got:
                return got
        except (httpx.HTTPError, KeyError, IndexError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


class Writer:
    """Remote-writes ``up{job="svc",instance="a"}`` every 0.5 s; survives a restart."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.value = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                req = pb.WriteRequest()
                s = req.timeseries.add()
                for k, v in (("__name__", "up"), ("instance", "a"), ("job", "svc")):
                    s.labels.add(name=k, value=v)
                s.samples.add(value=self.value, timestamp=round(time.time() * 1000))
                body = bytes(cramjam.snappy.compress_raw(req.SerializeToString()))
                with contextlib.suppress(httpx.HTTPError):  # the process is restarting
                    client.post(self.url, content=body, headers={
                        **HEADERS, "Content-Encoding": "snappy",
                        "Content-Type": "application/x-protobuf"})
                self.stop.wait(0.5)


def am_alerts(am: str) -> dict[str, dict]:
    return {a["labels"]["alertname"]: a
            for a in httpx.get(f"{am}/api/v2/alerts", timeout=5).json()}


def our_alerts(url: str) -> dict[str, dict]:
    r = httpx.get(f"{url}/prometheus/api/v1/alerts", headers=HEADERS, timeout=5)
    return {a["labels"]["alertname"]: a for a in r.json()["data"]["alerts"]}


def ts(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


@pytest.mark.timeout(240)
def test_alert_fires_reaches_alertmanager_resolves_and_survives_restart(
        tidewell: TidewellProcess, alertmanager: str) -> None:
    tidewell.args = ["-ruler.poll-interval=1s", f"-ruler.alertmanager-url={alertmanager}",
                     "-ruler.resend-delay=1s", "-ruler.for-grace-period=2s"]
    tidewell.start()
    writer = Writer(f"{tidewell.url}/api/v1/push")
    writer.thread.start()
    try:
        r = httpx.post(f"{tidewell.url}/prometheus/config/v1/rules/ns", content=GROUP,
                       headers=HEADERS)
        assert r.status_code == 202, r.text
        down = wait_for(lambda: am_alerts(alertmanager).get("Down"), 60, "Down in Alertmanager")
        assert down["labels"] == {"alertname": "Down", "severity": "page", "instance": "a",
                                  "job": "svc"}
        assert down["annotations"] == {"summary": "a of svc is down"}
        assert down["status"]["state"] == "active"
        ours = our_alerts(tidewell.url)
        assert ours["Down"]["state"] == "firing"
        assert ts(down["startsAt"]) - ts(ours["Down"]["activeAt"]) >= 3  # fired after `for`
        slow = ours["SlowDown"]
        assert slow["state"] == "pending"
        active_at = ts(slow["activeAt"])
        series = httpx.get(f"{tidewell.url}/prometheus/api/v1/query", headers=HEADERS,
                           params={"query": "ALERTS"}).json()["data"]["result"]
        assert {(s["metric"]["alertname"], s["metric"]["alertstate"]) for s in series} == {
            ("Down", "firing"), ("SlowDown", "pending")}

        # Restart while SlowDown is pending: its `for` progress is restored, not reset.
        stopping = time.time()
        tidewell.stop()
        tidewell.start()  # down for its stop and start: activeAt moves by at least that
        restored = wait_for(lambda: our_alerts(tidewell.url).get("SlowDown"), 60,
                            "SlowDown after the restart")
        seen = time.time()  # after the first evaluation since the restart (`ts` below)
        restored_at = ts(restored["activeAt"])
        # Reset, activeAt would be that first evaluation's time `ts` (just before `seen`).
        # Kept, it is `ts` less the time pending before the stop, which is at least
        # `stopping - active_at` (>= Down's 3 s `for`) less one 1 s evaluation interval.
        # Both bounds follow `seen`, not the restart, so a slow start cannot fail them.
        pending_before_stop = stopping - active_at
        hist = httpx.get(f"{tidewell.url}/prometheus/api/v1/query", headers=HEADERS,
                         params={"query": 'ALERTS_FOR_STATE{alertname="SlowDown"}[1h]'}).json()
        detail = (active_at, restored_at, stopping, seen,
                  [(float(t) % 1000, v) for t, v in hist["data"]["result"][0]["values"]])
        assert pending_before_stop >= 3, detail
        assert restored_at < seen - pending_before_stop + 1.5, detail
        # The time spent down does not count towards `for`: activeAt moved by the outage.
        assert active_at < restored_at <= active_at + (seen - stopping) + 5, detail
        fired = wait_for(lambda: our_alerts(tidewell.url)["SlowDown"]["state"] == "firing"
                         and our_alerts(tidewell.url)["SlowDown"], 60, "SlowDown firing")
        assert ts(fired["activeAt"]) == restored_at

        # The condition clears: Alertmanager hears that Down resolved.
        writer.value = 1.0
        wait_for(lambda: "Down" not in am_alerts(alertmanager), 60, "Down resolved")
        assert "Down" not in our_alerts(tidewell.url)
        metrics = httpx.get(f"{tidewell.url}/metrics").text
        sent = re.search(r'cortex_prometheus_notifications_sent_total\{alertmanager="[^"]+",'
                         r'user="team-a"\} (\S+)', metrics)
        assert sent and float(sent.group(1)) >= 2, metrics
    finally:
        writer.stop.set()
        writer.thread.join()
