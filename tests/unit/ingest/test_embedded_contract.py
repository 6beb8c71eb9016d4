"""The shared log contract, run against the embedded backend."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tidewell.ingest.embedded import EmbeddedLog
from tidewell.ingest.log import LogWriter, PartitionReader
from tidewell.ingest.testing import LogContractTests, closing_pair


class TestEmbeddedLogContract(LogContractTests):
    @pytest.fixture(autouse=True)
    def _dir(self, tmp_path: Path) -> None:
        self.dir = tmp_path / "log"

    @contextlib.asynccontextmanager
    async def open_log(self) -> AsyncIterator[tuple[LogWriter, PartitionReader]]:
        log = EmbeddedLog(str(self.dir), partitions=2)
        async with closing_pair(log, log) as pair:
            yield pair
