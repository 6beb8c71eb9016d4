"""UTF-8 names end to end: the OpenTelemetry SDK pushes dotted names over OTLP to a
running ``tidewell``; the Prometheus API reads them back with quoted selectors.

(The Debian Prometheus binary is 2.42: its scrape loop refuses non-legacy names,
so it cannot be the sender here.)
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import TidewellProcess
from tests.e2e.test_prometheus_remote_write import wait_for_series


@pytest.mark.timeout(120)
def test_otel_sdk_dotted_names_read_back_with_quoted_selectors(
    tidewell: TidewellProcess, tmp_path: Path
) -> None:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    tidewell.args = ["-auth.multitenancy-enabled=false"]
    tidewell.start()
    exporter = OTLPMetricExporter(endpoint=f"{tidewell.url}/otlp/v1/metrics")
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "shop"}),
                             metric_readers=[reader])
    meter = provider.get_meter("test")
    meter.create_counter("shop.orders", unit="{order}").add(3, {"region.name": "eu west"})
    assert provider.force_flush(10_000)
    provider.shutdown()

    prom = f"{tidewell.url}/prometheus"
    wait_for_series(prom, '{"shop.orders"}', timeout_s=30)
    r = httpx.get(f"{prom}/api/v1/query",
                  params={"query": 'sum by ("region.name") ({"shop.orders", job="shop"})'})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["result"] == [
        {"metric": {"region.name": "eu west"}, "value": r.json()["data"]["result"][0]["value"]}]
    assert r.json()["data"]["result"][0]["value"][1] == "3"
    r = httpx.get(f"{prom}/api/v1/series", params={"match[]": '{"shop.orders"}'})
    (series,) = r.json()["data"]
    assert series["__name__"] == "shop.orders" and series["region.name"] == "eu west"
    r = httpx.get(f"{prom}/api/v1/labels", params={"match[]": '{"shop.orders"}'})
    assert "region.name" in r.json()["data"]
    # A client that cannot put "region.name" in a URL path escapes it (U__ value encoding).
    r = httpx.get(f"{prom}/api/v1/label/U__region_2e_name/values")
    assert r.json()["data"] == ["eu west"]
    r = httpx.get(f"{prom}/api/v1/format_query",
                  params={"query": 'sum by("region.name")({"shop.orders",job="shop"})'})
    assert r.json()["data"] == 'sum by ("region.name") ({__name__="shop.orders",job="shop"})'
    assert "level=error" not in tidewell.logs()
