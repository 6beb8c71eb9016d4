"""Real clients against the distributor + embedded log: Prometheus remote write, OTel SDK."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time

import pytest
import uvicorn
from starlette.applications import Starlette

from tests.support.ports import free_port
from tests.unit.distributor.helpers import TenantState
from tidewell.distributor import Distributor, DistributorConfig, Limits, Overrides, push_routes
from tidewell.ingest.embedded import EmbeddedLog
from tidewell.protocol import decode_record_value
from tidewell.ring import PartitionRing, PartitionRingDesc, PartitionState


class Server:
    """Distributor + embedded log served by uvicorn on loopback, in a background thread."""

    def __init__(self, data_dir: str) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.log: EmbeddedLog | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.log = EmbeddedLog(self.data_dir, partitions=2)
        desc = PartitionRingDesc()
        for p in range(2):
            desc.add_partition(p, PartitionState.ACTIVE, time.time())
        dist = Distributor(DistributorConfig(), Overrides(Limits(ingestion_rate=1e9,
                           ingestion_burst_size=10**9)), PartitionRing(desc), self.log)
        app = TenantState(Starlette(routes=push_routes(dist)))
        cfg = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(cfg)
        self.ready.set()
        try:
            await self.server.serve()
        finally:
            await self.log.close()

    def __enter__(self) -> Server:
        self.thread.start()
        self.ready.wait(10)
        deadline = time.time() + 10
        while not getattr(self.server, "started", False) and time.time() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def names(self) -> set[str]:
        async def read():
            out = set()
            assert self.log is not None
            for p in range(2):
                end = await self.log.end_offset(p)
                recs = await self.log.fetch(p, 0, 100000, 0.1) if end else []
                for r in recs:
                    out.update(lab.name for lab in decode_record_value(r.value, r.version).labels)
            return out

        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(10)


@pytest.mark.timeout(90)
@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus binary not installed")
def test_prometheus_remote_write_1_0(tmp_path):
    with Server(str(tmp_path / "log")) as srv:
        prom_port = free_port()
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text(
            "global:\n  scrape_interval: 1s\n"
            "scrape_configs:\n  - job_name: self\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{prom_port}']\n"
            f"remote_write:\n  - url: http://127.0.0.1:{srv.port}/api/v1/push\n"
            "    queue_config:\n      batch_send_deadline: 1s\n"
        )
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.time() + 60
            names: set[str] = set()
            while time.time() < deadline and "up" not in names:
                time.sleep(0.25)
                names = srv.names()
            assert "up" in names
            assert "prometheus_build_info" in names
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.mark.timeout(60)
def test_otel_sdk_exporter(tmp_path):
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    with Server(str(tmp_path / "log")) as srv:
        exporter = OTLPMetricExporter(endpoint=f"http://127.0.0.1:{srv.port}/otlp/v1/metrics",
                                      headers={"X-Scope-OrgID": "otel"})
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
        provider = MeterProvider(resource=Resource.create({"service.name": "shop"}),
                                 metric_readers=[reader])
        meter = provider.get_meter("test")
        meter.create_counter("orders", unit="1").add(3, {"region": "eu"})
        meter.create_histogram("latency", unit="s").record(0.2)
        assert provider.force_flush(10_000)
        provider.shutdown()
        names = srv.names()
        # Mimir 3's default translation (UTF-8 names, no suffixes): NoTranslation.
        assert {"orders", "latency_bucket", "latency_sum", "latency_count",
                "target_info"} <= names
