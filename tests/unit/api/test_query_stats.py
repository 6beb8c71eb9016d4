"""``stats`` on the query API: Prometheus's ``data.stats`` (timings, samples, per step)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio

TIMINGS = {"evalTotalTime", "resultSortTime", "queryPreparationTime", "innerEvalTime",
           "execQueueTime", "execTotalTime"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_no_stats_unless_asked(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query", params={"query": "up", "time": "300"})
    assert "stats" not in r.json()["data"]


async def test_instant_query_counts_one_sample_per_series(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query",
                         params={"query": "up", "time": "300", "stats": "true"})
    stats = r.json()["data"]["stats"]
    assert set(stats["timings"]) == TIMINGS
    assert all(v >= 0 for v in stats["timings"].values())
    assert stats["timings"]["execTotalTime"] >= stats["timings"]["evalTotalTime"] > 0
    assert stats["samples"] == {"totalQueryableSamples": 2, "peakSamples": 2}


async def test_all_adds_the_samples_of_each_step(client: httpx.AsyncClient) -> None:
    r = await client.post("/prometheus/api/v1/query_range", data={
        "query": "sum(rate(reqs_total[1m])) + sum(up)", "start": "120", "end": "300",
        "step": "60", "stats": "all"})
    samples = r.json()["data"]["stats"]["samples"]
    # rate: 4 samples (15 s apart) in each 1m window; up: one sample of each of 2 series.
    assert samples["totalQueryableSamplesPerStep"] == [[120, 6], [180, 6], [240, 6], [300, 6]]
    assert samples["totalQueryableSamples"] == 24
    assert samples["peakSamples"] >= 8


async def test_subquery_samples_count_at_the_last_step(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query_range", params={
        "query": "max_over_time(up[2m:1m])", "start": "120", "end": "180", "step": "60",
        "stats": "all"})
    samples = r.json()["data"]["stats"]["samples"]
    # the inner selector runs on the subquery's own steps (0, 60, 120, 180 s): 2 series x 4
    assert samples["totalQueryableSamplesPerStep"] == [[120, 0], [180, 8]]
    assert samples["totalQueryableSamples"] == 8


async def test_scalar_results_carry_stats_too(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query",
                         params={"query": "scalar(sum(up))", "time": "300", "stats": "1"})
    data = r.json()["data"]
    assert data["resultType"] == "scalar" and data["stats"]["samples"][
        "totalQueryableSamples"] == 2
