"""Serve ``sample_data()`` over the internal routes on the port given (for kill tests)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import uvicorn

_spec = importlib.util.spec_from_file_location("querier_conftest",
                                               Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(conftest)

if __name__ == "__main__":
    app = conftest.internal_app(conftest.MemoryQueryable(conftest.sample_data()))
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                lifespan="off")
