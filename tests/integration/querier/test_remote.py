"""RemoteQueryable against real uvicorn servers on loopback serving the internal routes."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import numpy as np
import pytest
from prometheus_client import REGISTRY

from tidewell.model import Matcher, MatchType
from tidewell.protocol.pb import internal_pb2 as pb
from tidewell.querier.remote import (
    RemoteQueryable,
    RemoteQueryCancelledError,
    RemoteQueryError,
    RemoteQueryTimeoutError,
)
from tidewell.querier.wire import RAW, XOR_CHUNKS

from .conftest import MemoryQueryable, free_port, internal_app, sample_data

pytestmark = pytest.mark.timeout(60)
ALL = (0, 2**62)


def retries() -> float:
    return REGISTRY.get_sample_value("tidewell_querier_remote_retries_total",
                                     {"operation": "select"}) or 0.0


def assert_same(got, want) -> None:
    assert [s.labels for s in got] == [s.labels for s in want]
    for g, w in zip(got, want, strict=True):
        assert g.timestamps.dtype == np.int64 and g.values.dtype == np.float64
        np.testing.assert_array_equal(g.timestamps, w.timestamps)
        # bit-exact: NaN payloads (stale markers) and ±Inf must survive
        np.testing.assert_array_equal(g.values.view(np.uint64), w.values.view(np.uint64))


@pytest.mark.parametrize("encoding", [RAW, XOR_CHUNKS])
def test_round_trip_equals_local(serve, encoding) -> None:
    local = MemoryQueryable(sample_data())
    srv = serve(internal_app(local))
    with RemoteQueryable(srv.url, encoding=encoding, timeout_s=10) as remote:
        for tenant, mint, maxt, matchers in [
            ("t1", *ALL, [Matcher(MatchType.REGEX, "__name__", "metric_.*")]),
            ("t1", 1_700_000_500_000, 1_700_001_500_000, [Matcher.equal("job", "job1")]),
            ("t1", *ALL, [Matcher(MatchType.NOT_REGEX, "zone", "z1")]),
            ("t2", *ALL, [Matcher(MatchType.NOT_EQUAL, "__name__", "")]),
            ("nobody", *ALL, [Matcher.equal("job", "job1")]),
        ]:
            want = local.querier(tenant, mint, maxt).select(matchers)
            got = remote.querier(tenant, mint, maxt).select(matchers)
            assert_same(got, want)
        q, lq = remote.querier("t1", *ALL), local.querier("t1", *ALL)
        sel = [Matcher.equal("__name__", "metric_b")]
        assert q.label_names() == lq.label_names() == ["__name__", "instance", "job", "zone"]
        assert q.label_values("zone", sel) == lq.label_values("zone", sel)
        assert "é✓ ünïcode" in q.label_values("zone")
        stale = next(s for s in q.select(sel) if s.labels.get("instance") == "host-0:9100")
        assert stale.values.view(np.uint64)[7] == 0x7FF0000000000002


def test_limits_and_client_errors_are_not_retried(serve) -> None:
    local = MemoryQueryable(sample_data())
    srv = serve(internal_app(local))
    sel = [Matcher(MatchType.REGEX, "__name__", ".+")]
    with RemoteQueryable(srv.url, limit=3) as remote:
        assert len(remote.querier("t1", *ALL).select(sel)) == 3
        assert len(remote.querier("t1", *ALL).label_values("instance")) == 3
    retries_before = retries()
    with RemoteQueryable(srv.url, max_series=10, retries=3, backoff_s=1.0) as remote:
        with pytest.raises(RemoteQueryError) as info:
            remote.querier("t1", *ALL).select(sel)
        assert info.value.status == 422 and info.value.is_client
        assert "limit: 10 series" in str(info.value)
        bad_regex = pb.ReadRequest(matchers=[pb.LabelMatcher(type=pb.LabelMatcher.RE,
                                                             name="job", value="(")])
        with pytest.raises(RemoteQueryError) as info:
            remote.call("select", "t1", bad_regex.SerializeToString())
        assert info.value.status == 400 and srv.url in info.value.url
        assert "bad matcher" in str(info.value)
        with pytest.raises(RemoteQueryError) as info:
            remote.call("select", "t1", b"\xff\xff not protobuf")
        assert info.value.status == 400
        with pytest.raises(RemoteQueryError) as info:
            remote.querier("bad/tenant", *ALL).select(sel)
        assert info.value.status == 400
        with pytest.raises(RemoteQueryError) as info:  # only store-gateways have blocks
            remote.blocks_querier("t1", *ALL, ["01HZX8ZQ3M5N2B7C4D6E8F0G1H"]).select(sel)
        assert info.value.status == 400 and "serves no blocks" in str(info.value)
    assert retries() == retries_before  # 4xx are not retried


def test_retries_span_a_killed_and_restarted_server(server_process) -> None:
    port = free_port()
    proc = server_process(port).start()
    proc.wait_ready()
    sel = [Matcher.equal("job", "job2")]
    want = MemoryQueryable(sample_data()).querier("t1", *ALL).select(sel)
    with RemoteQueryable(proc.url, retries=60, backoff_s=0.05, max_backoff_s=0.2,
                         timeout_s=40) as remote:
        assert_same(remote.querier("t1", *ALL).select(sel), want)
        proc.kill()  # SIGKILL; the pooled keep-alive connection is now dead too
        with RemoteQueryable(proc.url, retries=1, backoff_s=0.01, timeout_s=5) as once:
            with pytest.raises(RemoteQueryError, match=r"127\.0\.0\.1") as info:
                once.querier("t1", *ALL).select(sel)
            assert info.value.status is None and isinstance(info.value.cause, Exception)
        retried = retries()
        proc.start()  # comes back on the same port while the client keeps retrying
        assert_same(remote.querier("t1", *ALL).select(sel), want)
        assert retries() > retried


def test_timeout_on_a_slow_server(serve) -> None:
    local = MemoryQueryable(sample_data())
    local.delay_s = 3.0
    srv = serve(internal_app(local))
    with RemoteQueryable(srv.url, timeout_s=0.3, retries=5) as remote:
        t0 = time.monotonic()
        with pytest.raises(RemoteQueryTimeoutError) as info:
            remote.querier("t1", *ALL).select([Matcher.equal("job", "job1")])
        assert 0.25 < time.monotonic() - t0 < 2.0
        assert isinstance(info.value, TimeoutError) and srv.url in info.value.url


def test_close_aborts_an_in_flight_call(serve) -> None:
    local = MemoryQueryable(sample_data())
    local.delay_s = 5.0
    srv = serve(internal_app(local))
    remote = RemoteQueryable(srv.url, timeout_s=30)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            remote.querier("t1", *ALL).select([Matcher.equal("job", "job1")])
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)  # the request is now waiting on the server
    t0 = time.monotonic()
    remote.close()
    t.join(timeout=3)
    assert not t.is_alive() and time.monotonic() - t0 < 2.0
    assert len(errors) == 1 and isinstance(errors[0], RemoteQueryCancelledError)
    with pytest.raises(RemoteQueryCancelledError):
        remote.querier("t1", *ALL).label_names()


class StatusRecorder:
    """ASGI wrapper noting each response status and when it was sent."""

    def __init__(self, app) -> None:
        self.app = app
        self.sent: list[tuple[int, float]] = []

    async def __call__(self, scope, receive, send) -> None:
        async def record(message) -> None:
            if message["type"] == "http.response.start":
                self.sent.append((message["status"], time.monotonic()))
            await send(message)

        await self.app(scope, receive, record)


def test_server_stops_waiting_when_the_client_goes_away(serve) -> None:
    local = MemoryQueryable(sample_data())
    local.delay_s = 5.0
    app = StatusRecorder(internal_app(local))
    srv = serve(app)
    remote = RemoteQueryable(srv.url, timeout_s=30)
    def run() -> None:
        with contextlib.suppress(RemoteQueryCancelledError):
            remote.querier("t1", *ALL).label_names()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)
    closed_at = time.monotonic()
    remote.close()
    t.join(timeout=3)
    deadline = time.monotonic() + 3
    while not app.sent and time.monotonic() < deadline:
        time.sleep(0.02)
    # the handler gave up on the querier (still sleeping) as soon as the peer left
    assert app.sent and app.sent[0][0] == 499
    assert app.sent[0][1] - closed_at < 2.0


def test_wait_for_offset(serve) -> None:
    consumed = {"offset": 0}  # what the "ingester" consumed; the test moves it on

    async def waiter(end_offset: int, timeout_s: float) -> None:
        async def reached() -> None:
            while consumed["offset"] < end_offset:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(reached(), timeout_s)

    srv = serve(internal_app(MemoryQueryable({}), waiter))

    async def main() -> None:
        with RemoteQueryable(srv.url) as remote:
            await remote.wait_for_offset(0, 1.0)  # already there
            t0 = time.monotonic()
            with pytest.raises(RemoteQueryTimeoutError) as info:
                await remote.wait_for_offset(10, 0.3)
            assert info.value.status == 504 and 0.25 < time.monotonic() - t0 < 2.5
            task = asyncio.ensure_future(remote.wait_for_offset(10, 5.0))
            await asyncio.sleep(0.2)
            assert not task.done()
            consumed["offset"] = 10
            await asyncio.wait_for(task, 3)
            # cancelling the caller's task aborts the request
            task = asyncio.ensure_future(remote.wait_for_offset(99, 5.0))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())


def test_wait_for_offset_without_waiter_is_an_error(serve) -> None:
    srv = serve(internal_app(MemoryQueryable({})))

    async def main() -> None:
        with RemoteQueryable(srv.url) as remote:
            with pytest.raises(RemoteQueryError) as info:
                await remote.wait_for_offset(1, 0.5)
            assert info.value.status == 501

    asyncio.run(main())


def test_labels_of_empty_tenant(serve) -> None:
    srv = serve(internal_app(MemoryQueryable(sample_data())))
    with RemoteQueryable(srv.url) as remote:
        q = remote.querier("nobody", *ALL)
        assert q.select([Matcher.equal("a", "b")]) == []
        assert q.label_names() == [] and q.label_values("job") == []


class HeadQueryable:
    """The ingester's real in-memory head behind the seam (one tenant)."""

    def __init__(self, head) -> None:
        self.head = head

    def querier(self, tenant: str, mint: int, maxt: int):
        from tidewell.tsdb.head import HeadQuerier

        return HeadQuerier(self.head, mint, maxt)


def test_real_head_served_remotely(serve) -> None:
    from tidewell.model import SampleBatch
    from tidewell.tsdb.head import Head

    data = sample_data(n_series=30, n_samples=500)["t1"]
    labels = list(data)
    head = Head()
    head.append(SampleBatch(
        labels=labels,
        series_index=np.repeat(np.arange(len(labels), dtype=np.int32), 500),
        timestamps=np.concatenate([data[lb][0] for lb in labels]),
        values=np.concatenate([data[lb][1] for lb in labels])))
    local = HeadQueryable(head)
    srv = serve(internal_app(local))
    sel = [Matcher(MatchType.REGEX, "job", "job[02]")]
    mint, maxt = 1_700_000_900_000, 1_700_005_000_000
    want = local.querier("t1", mint, maxt).select(sel)
    assert len(want) == 20 and sum(len(s) for s in want) > 2000
    for encoding in (RAW, XOR_CHUNKS):
        with RemoteQueryable(srv.url, encoding=encoding) as remote:
            q = remote.querier("t1", mint, maxt)
            assert_same(q.select(sel), want)
            assert q.label_values("job") == ["job0", "job1", "job2"]


def test_concurrent_selects_share_one_client(serve) -> None:
    local = MemoryQueryable(sample_data())
    srv = serve(internal_app(local))
    jobs = [[Matcher.equal("job", f"job{i % 3}")] for i in range(12)]
    want = [local.querier("t1", *ALL).select(m) for m in jobs]
    got: dict[int, list] = {}
    with RemoteQueryable(srv.url, max_connections=4) as remote:
        def run(i: int) -> None:
            got[i] = remote.querier("t1", *ALL).select(jobs[i])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
    assert sorted(got) == list(range(len(jobs)))
    for i, w in enumerate(want):
        assert_same(got[i], w)


def test_series_hint_stops_the_remote_select_before_its_answer_exists(serve) -> None:
    """The hint travels as ``max_series``; the serving head refuses from its postings
    (nothing decoded, nothing encoded) and the client raises ``SelectLimitError``."""
    import tracemalloc

    from tests.support.ingester import make_batch
    from tidewell.model import Labels, SelectHints, SelectLimitError
    from tidewell.tsdb.head import Head, HeadQuerier

    head = Head()
    labels = [Labels([("__name__", "m"), ("i", str(i))]) for i in range(2000)]
    for r in range(240):
        head.append(make_batch([(lb, r * 15_000, float(r)) for lb in labels]))
        if r % 60 == 59:
            head.cut_chunks()

    class HeadQueryable:
        def querier(self, tenant: str, mint: int, maxt: int) -> HeadQuerier:
            return HeadQuerier(head, mint, maxt)

    srv = serve(internal_app(HeadQueryable()))
    sel = [Matcher(MatchType.EQUAL, "__name__", "m")]
    with RemoteQueryable(srv.url, encoding=RAW, timeout_s=30) as remote:
        assert len(remote.querier("t1", *ALL).select(sel)) == 2000
        tracemalloc.start()
        with pytest.raises(SelectLimitError) as err:
            remote.querier("t1", *ALL).select(sel, SelectHints(max_series=100))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert err.value.what == "series" and err.value.limit == 100
    assert peak < 2000 * 240 * 16 / 5, peak  # the answer would hold 7.7 MB decoded
