"""The command's run loop: a module that fails while running stops the process with exit 1.

(``/ready`` answering 503 for a Failed module: ``tests/unit/util/test_services.py``.)
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port
from tidewell.cli import SWITCH_INTERVAL_S, serve
from tidewell.config import load
from tidewell.ingester import Ingester

pytestmark = pytest.mark.timeout(120)


def test_failed_background_loop_stops_the_process_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    config = load([f"-server.http-listen-port={port}", "-server.http-listen-address=127.0.0.1",
                   f"-common.storage.path={tmp_path}"]).config
    broken = asyncio.Event()
    real_maintain = Ingester.maintain

    async def maintain(self: Ingester) -> None:  # run by the consumer loop between fetches
        if broken.is_set():
            raise RuntimeError("consumer broke")
        await real_maintain(self)

    monkeypatch.setattr(Ingester, "maintain", maintain)
    statuses: list[int] = []

    async def scenario() -> int:
        run = asyncio.ensure_future(serve(config))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(600):
                try:
                    if (await client.get("/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            statuses.append((await client.get("/ready")).status_code)
            broken.set()
        return await asyncio.wait_for(run, 60)

    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    try:
        with caplog.at_level(logging.INFO):
            assert asyncio.run(scenario()) == 1
        # once started, the process runs with its GC and GIL settings
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S)
        assert gc.get_threshold() == (50_000, 20, 100)
    finally:  # the rest of the test session keeps its own
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    assert statuses[0] == 200
    messages = [r.getMessage() for r in caplog.records]
    assert "background loop failed" in messages
    assert "a module failed, shutting down" in messages
    assert "shutdown complete" in messages
