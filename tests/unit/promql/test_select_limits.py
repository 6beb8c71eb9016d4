"""Series and chunk-bytes limits stop a selector inside the storage, before its samples
are decoded: the query fails with Mimir's limit error while the memory it traced stays a
small fraction of what the whole answer would hold."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

from tests.support.ingester import make_batch as batch
from tidewell.model import Labels, Matcher, MatchType, SelectHints, SelectLimitError
from tidewell.promql.context import EngineOptions
from tidewell.promql.engine import Engine
from tidewell.promql.errors import QueryLimitError
from tidewell.tsdb.head import Head, HeadQuerier

SERIES, ROUNDS, STEP = 2000, 480, 15_000
DECODED = SERIES * ROUNDS * 16  # bytes of the whole answer as the engine holds it


class HeadQueryable:
    def __init__(self, head: Head) -> None:
        self.head = head

    def querier(self, tenant: str, mint: int, maxt: int) -> HeadQuerier:
        return HeadQuerier(self.head, mint, maxt)


@pytest.fixture(scope="module")
def head() -> Head:
    h = Head()
    labels = [Labels([("__name__", "m"), ("i", str(i))]) for i in range(SERIES)]
    rng = np.random.default_rng(1)
    for r in range(ROUNDS):
        h.append(batch([(lb, r * STEP, float(v)) for lb, v in
                        zip(labels, rng.integers(0, 1000, SERIES).tolist(), strict=True)]))
        if r % 60 == 59:
            h.cut_chunks()
    return h


def traced_peak(fn: Callable[[], object]) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        fn()
        err = None
    except Exception as exc:
        err = exc
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return err, peak


def test_full_answer_is_what_the_limits_would_prevent(head: Head) -> None:
    got = HeadQuerier(head, 0, ROUNDS * STEP).select([Matcher(MatchType.EQUAL, "__name__", "m")])
    assert len(got) == SERIES and sum(len(s) for s in got) == SERIES * ROUNDS


@pytest.mark.parametrize("hints,what", [(SelectHints(max_series=100), "series"),
                                        (SelectHints(max_bytes=1 << 20), "bytes")])
def test_head_stops_before_decoding(head: Head, hints: SelectHints, what: str) -> None:
    q = HeadQuerier(head, 0, ROUNDS * STEP)
    err, peak = traced_peak(lambda: q.select([Matcher(MatchType.EQUAL, "__name__", "m")], hints))
    assert isinstance(err, SelectLimitError) and err.what == what
    assert peak < DECODED / 5, peak


@pytest.mark.parametrize("opts,message", [
    (EngineOptions(max_fetched_series=100), "maximum number of series (limit: 100 series)"),
    (EngineOptions(max_fetched_chunk_bytes=1 << 20),
     f"aggregated chunks size limit (limit: {1 << 20} bytes)"),
])
def test_query_fails_with_the_limit_error_before_the_answer_exists(
        head: Head, opts: EngineOptions, message: str) -> None:
    engine = Engine(opts)
    err, peak = traced_peak(lambda: engine.range_query(
        HeadQueryable(head), "t", "sum(rate(m[5m]))", 0, ROUNDS * STEP, 60_000))
    assert isinstance(err, QueryLimitError) and message in str(err)
    assert peak < DECODED / 5, peak
