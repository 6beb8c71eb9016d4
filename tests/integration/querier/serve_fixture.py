"""Serve ``sample_data()`` over the internal routes on the port given (for kill tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repo root, for ``tests``
from tests.integration.querier import conftest

if __name__ == "__main__":
    app = conftest.internal_app(conftest.MemoryQueryable(conftest.sample_data()))
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                lifespan="off")
