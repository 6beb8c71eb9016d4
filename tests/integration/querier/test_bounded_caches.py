"""The querier's per-peer clients and per-tenant bucket indexes stay bounded."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.support.memory import DictQuerier
from tests.unit.storegateway.sg_helpers import HOUR, T0, make_series, write_and_upload
from tidewell.model import Matcher
from tidewell.objstore import FilesystemBucket
from tidewell.querier.blocks import BucketIndexBlocksFinder
from tidewell.querier.remote import RemoteClients, RemoteQueryable

from .conftest import MemoryQueryable, internal_app, sample_data


def test_peer_clients_are_capped_and_evicted_ones_closed():
    made: list[RemoteQueryable] = []

    def factory(url: str) -> RemoteQueryable:
        made.append(RemoteQueryable(url))
        return made[-1]

    clients = RemoteClients(factory, max_clients=8)
    for i in range(500):
        clients.get(f"http://10.0.{i // 250}.{i % 250}:9095")
        assert len(clients) <= 8
    assert len(made) == 500
    assert all(c.closed for c in made[:-8]) and not any(c.closed for c in made[-8:])
    # the most recently used stays; the least recently used goes first
    oldest, second = made[-8], made[-7]
    assert clients.get(oldest.base_url) is oldest
    clients.get("http://10.9.9.9:9095")
    assert second.closed and not oldest.closed
    clients.close()
    assert all(c.closed for c in made)


class SignallingQueryable(MemoryQueryable):
    """Says when a query reached the server."""

    def __init__(self) -> None:
        super().__init__(sample_data())
        self.asked = threading.Event()

    def querier(self, tenant: str, mint: int, maxt: int) -> DictQuerier:
        self.asked.set()
        return super().querier(tenant, mint, maxt)


def test_an_evicted_client_finishes_its_call_before_closing(serve):
    slow = SignallingQueryable()
    slow.delay_s = 1.0
    srv = serve(internal_app(slow))
    clients = RemoteClients(lambda url: RemoteQueryable(url, timeout_s=10), max_clients=1)
    busy = clients.get(srv.url)
    result: dict[str, object] = {}

    def query() -> None:
        q = busy.querier("t1", 0, 2**62)
        try:
            result["series"] = q.select([Matcher.equal("__name__", "metric_a")])
        except Exception as exc:  # shown by the assertion below
            result["series"] = exc

    t = threading.Thread(target=query)
    t.start()
    assert slow.asked.wait(10)  # the select is in flight
    clients.get("http://127.0.0.1:1")  # evicts the busy client
    assert not busy.closed
    t.join(timeout=10)
    assert isinstance(result["series"], list), result
    assert len(result["series"]) == 25
    assert busy.closed  # closed once its call ended
    clients.close()


def test_bucket_indexes_of_many_tenants_stay_bounded(tmp_path: Path):
    bucket = FilesystemBucket(tmp_path / "bucket", fsync=False)
    block = write_and_upload(bucket, "real", tmp_path / "local",
                             make_series(3, T0, T0 + HOUR, seed=1))
    finder = BucketIndexBlocksFinder(bucket, max_tenants=20)
    for i in range(400):
        assert finder.blocks(f"tenant-{i}", T0, T0 + HOUR) == []
        assert finder.cached_tenants <= 20
    assert [b.block_id for b in finder.blocks("real", T0, T0 + HOUR)] == [block]
    assert finder.cached_tenants == 20
