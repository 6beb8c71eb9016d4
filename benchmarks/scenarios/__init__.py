"""The scenarios; each module's ``run(ctx)`` returns its table rows."""

from benchmarks.scenarios import (
    histogram,
    hour,
    memory,
    million,
    query,
    remotewrite,
    replay,
    serving,
    storage,
    write,
)

SCENARIOS = {
    "write": write.run,
    "memory": memory.run,
    "storage": storage.run,
    "query": query.run,
    "replay": replay.run,
    "hour": hour.run,
    "histogram": histogram.run,
    "serving": serving.run,
    "million": million.run,
    "remotewrite": remotewrite.run,
}

DEFAULT_SCENARIOS = ("write", "memory", "storage", "query", "replay", "histogram")
"""What ``run`` without names runs: "hour" takes hours at full size, so only on request."""

SERVER_CORES = {"hour": hour.SERVER_CORES, "serving": serving.SERVER_CORES,
                "million": million.SERVER_CORES, "remotewrite": "0,1"}
"""Scenarios whose servers need other cores than the harness default when none are given."""

__all__ = ["DEFAULT_SCENARIOS", "SCENARIOS", "SERVER_CORES"]
