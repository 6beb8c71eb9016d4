"""A stock Prometheus 3 scrapes an OpenMetrics target with exemplars and metadata and
remote-writes them (RW 1.0 and 2.0) to Tidewell as one tenant; Tidewell's
``/api/v1/query_exemplars`` and ``/api/v1/metadata`` answer that tenant what
Prometheus's own API answers, another tenant nothing, before and after a restart.

(Debian's Prometheus 2.42 would not do: it does not send ``remote_write.headers``,
checked with a capturing server, so it cannot name a tenant.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import TidewellProcess
from tests.support.ports import free_port
from tests.support.prometheus import PrometheusProcess

pytestmark = pytest.mark.timeout(240)

TENANT = {"X-Scope-OrgID": "team-exemplars"}
OTHER = {"X-Scope-OrgID": "someone-else"}

class Target:
    """An OpenMetrics endpoint whose counter gets a new exemplar (trace) per step."""

    def __init__(self) -> None:
        self.step = 0
        self.frozen = False
        self.t0 = time.time()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = target.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type",
                                 "application/openmetrics-text; version=1.0.0; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def exposition(self) -> str:
        if not self.frozen:
            self.step += 1
        n = self.step
        ex_ts = self.t0 + n * 0.25
        return (
            "# TYPE demo_requests counter\n"
            "# HELP demo_requests Requests handled by the demo, by path.\n"
            f'demo_requests_total{{path="/a"}} {n} # {{trace_id="trace-{n}"}} {n * 0.5} '
            f"{ex_ts:.3f}\n"
            "# TYPE demo_temperature_celsius gauge\n"
            "# UNIT demo_temperature_celsius celsius\n"
            "# HELP demo_temperature_celsius Temperature of the demo room.\n"
            "demo_temperature_celsius 21.5\n"
            "# EOF\n"
        )


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    t.thread.start()
    yield t
    t.server.shutdown()


def exemplars(url: str, headers: dict[str, str] | None = None) -> Any:
    r = httpx.get(f"{url}/api/v1/query_exemplars", headers=headers or {}, timeout=10,
                  params={"query": 'demo_requests_total{path="/a"}',
                          "start": "0", "end": str(time.time() + 3600)})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def metadata(url: str, metric: str, headers: dict[str, str] | None = None) -> Any:
    r = httpx.get(f"{url}/api/v1/metadata", headers=headers or {}, timeout=10,
                  params={"metric": metric})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def without_job_labels(data: Any) -> Any:
    """Series labels as the scrape target sees them (Prometheus adds job and instance)."""
    return [{**s, "seriesLabels": {k: v for k, v in s["seriesLabels"].items()
                                   if k not in ("job", "instance")}} for s in data]


def eventually(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        ok, last = check()
        if ok:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: last seen {last!r}")


@pytest.mark.parametrize("message", ["prometheus.WriteRequest", "io.prometheus.write.v2.Request"],
                         ids=["rw1", "rw2"])
def test_exemplars_and_metadata_from_prometheus_are_served_as_prometheus_does(
    tidewell: TidewellProcess, target: Target, tmp_path: Path, message: str
) -> None:
    tidewell.args = ["-auth.multitenancy-enabled=true"]
    tidewell.start()
    prom_port = free_port()
    prom = PrometheusProcess(
        workdir=tmp_path / "prometheus", port=prom_port,
        # metadata-wal-records: without it Prometheus 3 sends no metadata over RW 2.0.
        extra_args=["--enable-feature=exemplar-storage,metadata-wal-records"],
        config={
            # Five exemplars within ~3 s of the first scrape.
            "global": {"scrape_interval": "500ms", "scrape_timeout": "500ms"},
            "scrape_configs": [{"job_name": "demo",
                                "static_configs": [{"targets": [target.addr]}]}],
            "remote_write": [{
                "url": f"{tidewell.url}/api/v1/push",
                "headers": TENANT,
                "protobuf_message": message,
                "send_exemplars": True,
                "metadata_config": {"send": True, "send_interval": "1s"},
                "queue_config": {"batch_send_deadline": "1s", "min_backoff": "100ms",
                                 "max_backoff": "1s"},
            }],
        },
    )
    prom.start()
    ours_url, theirs_url = f"{tidewell.url}/prometheus", prom.url
    try:
        eventually(lambda: (len(exemplars(theirs_url)[0]["exemplars"]) >= 5
                            if exemplars(theirs_url) else False, None),
                   60, "Prometheus scraped no exemplars")
        target.frozen = True  # no new exemplars: both sides must converge
        theirs = eventually(
            lambda: ((d := exemplars(theirs_url)) == exemplars(ours_url, TENANT), d),
            60, "Tidewell's exemplars never matched Prometheus's")
        assert len(theirs[0]["exemplars"]) >= 5
        assert without_job_labels(theirs)[0]["seriesLabels"] == {
            "__name__": "demo_requests_total", "path": "/a"}
        first = theirs[0]["exemplars"][0]
        assert first["labels"]["trace_id"].startswith("trace-")
        assert isinstance(first["value"], str)

        # RW 1.0 names metric families; RW 2.0 carries metadata per series, so (as in
        # Mimir) a family is known by its series' name: the counter's ends in _total.
        rw2 = message.startswith("io.prometheus.write.v2")
        for family, series in (("demo_requests", "demo_requests_total"),
                               ("demo_temperature_celsius", "demo_temperature_celsius")):
            want = metadata(theirs_url, family)
            assert want, f"Prometheus has no metadata for {family}"
            name = series if rw2 else family
            want = {name: want[family]}
            eventually(lambda n=name, w=want: (metadata(ours_url, n, TENANT) == w,
                                               metadata(ours_url, n, TENANT)),
                       30, f"metadata of {name} differs")
        assert metadata(ours_url, "demo_temperature_celsius", TENANT) == {
            "demo_temperature_celsius": [{"type": "gauge", "unit": "celsius",
                                          "help": "Temperature of the demo room."}]}
        # Another tenant sees none of it.
        assert exemplars(ours_url, OTHER) == []
        assert metadata(ours_url, "", OTHER) == {}
    finally:
        prom.stop()

    # Both survive a restart (snapshot on shutdown, WAL after it).
    tidewell.stop()
    tidewell.start()
    assert exemplars(ours_url, TENANT) == theirs
    assert metadata(ours_url, "demo_temperature_celsius", TENANT) == {
        "demo_temperature_celsius": [{"type": "gauge", "unit": "celsius",
                                      "help": "Temperature of the demo room."}]}
    assert "level=error" not in tidewell.logs()
