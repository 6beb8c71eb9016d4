"""One bucket-index writer: in a process running the compactor (``-target=all``), the
shipper refreshes the index through the compactor's cleaner. (An ingester-only process
has no writer: ``Shipper`` writes no index by default, see
tests/integration/ingester/test_shipper.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tidewell.config import Config
from tidewell.modules import build


def test_single_process_shipper_writes_the_index_through_the_cleaner(tmp_path: Path) -> None:
    config = Config(target=["all"])
    config.common.storage.path = str(tmp_path)

    async def built() -> tuple[object, object]:
        app = await build(config)
        return app.objects["ingester"].shipper.index_writer, app.objects["compactor"]

    writer, compactor = asyncio.run(built())
    assert writer == compactor.clean_tenant  # type: ignore[attr-defined]
