"""The five scenarios; each module's ``run(ctx)`` returns its table rows."""

from benchmarks.scenarios import memory, query, replay, storage, write

SCENARIOS = {
    "write": write.run,
    "memory": memory.run,
    "storage": storage.run,
    "query": query.run,
    "replay": replay.run,
}

__all__ = ["SCENARIOS"]
