from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidewell.frontend.merge import merge_responses
from tidewell.frontend.request import (
    RANGE,
    QueryRequest,
    QueryResponse,
    TooManyOutstandingRequestsError,
    error_response,
)
from tidewell.frontend.split import (
    SplitByIntervalMiddleware,
    next_interval_boundary,
    split_by_interval,
)
from tidewell.frontend.step_align import StepAlignMiddleware, align

from .conftest import MatrixDownstream, matrix_for, range_request

DAY = 86_400_000
H = 3_600_000


def spans(parts):
    return [(p.start, p.end) for p in parts]


def test_next_interval_boundary_stays_on_step_grid():
    assert next_interval_boundary(0, 15_000, DAY) == DAY - 15_000
    # grid offset by 7s: last grid point before midnight is 23:59:52
    assert next_interval_boundary(7_000, 15_000, DAY) == DAY - 8_000
    # step as long as the interval: the part collapses onto its start
    assert next_interval_boundary(0, DAY, DAY) == 0


@pytest.mark.parametrize(("start", "end", "step", "expected"), [
    # a last part shorter than one step is folded into the one before, as Mimir does
    (0, DAY, 15_000, [(0, DAY)]),
    (0, 2 * DAY, 15_000, [(0, DAY - 15_000), (DAY, 2 * DAY)]),
    (0, DAY - 15_000, 15_000, [(0, DAY - 15_000)]),
    (DAY - H, DAY + H, 60_000, [(DAY - H, DAY - 60_000), (DAY, DAY + H)]),
    (0, 3 * DAY, DAY, [(0, 0), (DAY, DAY), (2 * DAY, 3 * DAY)]),
    (5 * H, 5 * H, 60_000, [(5 * H, 5 * H)]),
    (7_000, 2 * DAY, 30_000,
     [(7_000, DAY - 23_000), (DAY + 7_000, 2 * DAY)]),
])
def test_split_by_day_matches_mimir(start, end, step, expected):
    req = range_request(start / 1000, end / 1000, step / 1000)
    assert spans(split_by_interval(req, DAY)) == expected


@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, 10 * DAY), length=st.integers(0, 5 * DAY),
       step=st.integers(1, 3 * H), interval=st.sampled_from([H, 6 * H, DAY]))
def test_split_covers_exactly_the_original_steps(start, length, step, interval):
    end = start + length
    if length // step > 2000:
        step = length // 2000 + 1
    req = QueryRequest(RANGE, "t", "m", start, end, step)
    parts = split_by_interval(req, interval)
    points = [t for p in parts for t in range(p.start, p.end + 1, step)]
    assert points == list(range(start, end + 1, step))
    assert parts[0].start == start
    for p in parts[:-1]:  # no part but the last crosses an interval boundary
        assert p.start // interval == p.end // interval


def test_step_align_moves_start_and_end_down():
    req = range_request(1007, 2011, 10)
    a = align(req)
    assert (a.start, a.end) == (1_000_000, 2_010_000)
    aligned = range_request(1000, 2000, 10)
    assert align(aligned) is aligned


@pytest.mark.anyio
async def test_split_results_equal_unsplit_and_parallelism_is_bounded():
    ds = MatrixDownstream(delay=0.01)
    handler = SplitByIntervalMiddleware(86400, max_parallelism=3).wrap(ds)
    req = range_request(DAY / 1000 * 10 + 3600, DAY / 1000 * 30 - 60, 300)
    resp = await handler.do(req)
    assert resp.json() == matrix_for(req)
    assert len(ds.requests) == 20
    assert ds.max_in_flight == 3
    assert all(r.step == req.step for r in ds.requests)


@pytest.mark.anyio
async def test_at_start_end_queries_are_not_split():
    ds = MatrixDownstream()
    handler = SplitByIntervalMiddleware(86400, 14).wrap(ds)
    await handler.do(range_request(0, 3 * 86400, 600, query="m @ start()"))
    assert len(ds.requests) == 1
    await handler.do(range_request(0, 3 * 86400, 600, query="m"))
    assert len(ds.requests) == 1 + 3


@pytest.mark.anyio
async def test_first_error_of_a_part_is_returned():
    class Failing(MatrixDownstream):
        async def do(self, request):
            if request.start >= DAY:
                return error_response(422, "execution", "boom")
            return QueryResponse.from_json(matrix_for(request))

    resp = await SplitByIntervalMiddleware(86400, 2).wrap(Failing()).do(
        range_request(0, 3 * 86400, 600))
    assert resp.status_code == 422
    assert resp.json()["error"] == "boom"


@pytest.mark.anyio
async def test_step_align_then_split():
    ds = MatrixDownstream()
    handler = StepAlignMiddleware().wrap(SplitByIntervalMiddleware(86400, 4).wrap(ds))
    resp = await handler.do(range_request(86400 - 601, 86400 + 1799, 600))
    assert spans(ds.requests) == [(DAY - 1_200_000, DAY - 600_000), (DAY, DAY + 1_200_000)]
    assert resp.json() == matrix_for(range_request(86400 - 1200, 86400 + 1200, 600))


def test_merge_dedups_overlap_sorts_series_and_unions_warnings():
    a = range_request(0, 600, 60)
    b = range_request(600, 1200, 60)
    da, db = matrix_for(a), matrix_for(b)
    da["warnings"] = ["w1"]
    db["warnings"] = ["w1", "w2"]
    db["data"]["result"].reverse()
    db["data"]["result"].append({"metric": {"__name__": "m", "inst": "0"},
                                 "values": [[1200, "5"]]})
    merged = merge_responses([QueryResponse.from_json(db), QueryResponse.from_json(da)]).json()
    whole = matrix_for(range_request(0, 1200, 60))
    insts = [s["metric"]["inst"] for s in merged["data"]["result"]]
    assert insts == ["0", "a", "b"]
    assert merged["data"]["result"][1:] == whole["data"]["result"]
    assert merged["warnings"] == ["w1", "w2"]


@pytest.mark.anyio
async def test_a_failing_part_raises_its_own_error_and_cancels_the_rest():
    class Full(MatrixDownstream):
        async def do(self, request):
            if request.start >= DAY:
                raise TooManyOutstandingRequestsError("full")
            await super().do(request)
            await asyncio.sleep(5)
            raise AssertionError("not cancelled")

    ds = Full()
    with pytest.raises(TooManyOutstandingRequestsError):
        async with asyncio.timeout(2):
            await SplitByIntervalMiddleware(86400, 4).wrap(ds).do(
                range_request(0, 3 * 86400, 600))
