"""Status endpoints: readiness with reasons, services, config with secrets masked, flags."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import yaml

from tidewell.api.server import build_app
from tidewell.api.status import status_routes
from tidewell.config import Config
from tidewell.util.services import ServiceManager


class SlowService:
    """Starts, but reports not ready until told otherwise."""

    def __init__(self) -> None:
        self.is_ready = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def ready(self) -> tuple[bool, str]:
        return self.is_ready, "" if self.is_ready else "catching up: offset 3 of 10"


def client(config: Config, manager: ServiceManager) -> httpx.AsyncClient:
    app = build_app(status_routes(config, manager), multitenancy_enabled=True)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tw")


def test_ready_is_503_with_reason_until_every_module_is_ready() -> None:
    async def scenario() -> None:
        svc = SlowService()
        manager = ServiceManager([("ingester", svc)])
        async with client(Config(), manager) as c:
            r = await c.get("/ready")
            assert r.status_code == 503
            assert "module ingester is New" in r.text
            await manager.start_all()
            r = await c.get("/ready")
            assert r.status_code == 503
            assert "catching up: offset 3 of 10" in r.text
            svc.is_ready = True
            assert (await c.get("/ready")).status_code == 200
            states = (await c.get("/services", headers={"accept": "application/json"})).json()
            assert states == {"ingester": "Running"}
            await manager.stop_all(timeout_s=1)
            assert (await c.get("/ready")).status_code == 503

    asyncio.run(scenario())


@pytest.mark.parametrize("mode", ["", "diff"])
def test_config_masks_secrets(mode: str) -> None:
    config = Config()
    config.blocks_storage.backend = "s3"
    config.blocks_storage.s3.secret_access_key = "hunter2"
    config.ingest_storage.kafka.sasl_password = "s3cret"

    async def scenario() -> str:
        async with client(config, ServiceManager()) as c:
            return (await c.get("/config", params={"mode": mode} if mode else None)).text

    text = asyncio.run(scenario())
    assert "hunter2" not in text and "s3cret" not in text
    doc = yaml.safe_load(text)
    assert doc["blocks_storage"]["s3"]["secret_access_key"] == "********"
    assert doc["blocks_storage"]["backend"] == "s3"
    if mode == "diff":
        assert "server" not in doc


def test_flags_endpoint_lists_every_flag_as_strings() -> None:
    async def scenario() -> dict[str, str]:
        async with client(Config(), ServiceManager()) as c:
            body = (await c.get("/api/v1/status/flags")).json()
            assert body["status"] == "success"
            return body["data"]

    data = asyncio.run(scenario())
    assert data["server.http-listen-port"] == "8080"
    assert data["ingest-storage.kafka.topic"] == "ingest"
    assert data["blocks-storage.tsdb.block-ranges-period"] == "2h0m0s"
    assert all(isinstance(v, str) for v in data.values())
