from __future__ import annotations

import sys
import threading

import pytest

from tidewell.storegateway.cache import ByteLRU, IndexCache
from tidewell.storegateway.config import BucketStoreConfig

from .sg_helpers import metric


def test_lru_evicts_least_recently_used_by_bytes() -> None:
    lru = ByteLRU(100)
    lru.put(("a", 1), "x", 40)
    lru.put(("a", 2), "y", 40)
    assert lru.get(("a", 1)) == "x"  # now 2 is the oldest
    lru.put(("b", 3), "z", 40)
    assert ("a", 2) not in lru
    assert lru.get(("a", 1)) == "x" and lru.get(("b", 3)) == "z"
    assert lru.size_bytes == 80
    assert lru.type_count == {"a": 1, "b": 1} and lru.type_size == {"a": 40, "b": 40}
    assert lru.evicted == {"a": 1}
    assert (lru.hits, lru.misses) == (3, 0)
    assert lru.get(("a", 2)) is None and lru.misses == 1


def test_lru_replaces_and_rejects_oversized_and_discards() -> None:
    lru = ByteLRU(100)
    lru.put(("a", 1), "x", 60)
    lru.put(("a", 1), "x2", 30)
    assert lru.size_bytes == 30 and lru.get(("a", 1)) == "x2"
    lru.put(("a", 2), "big", 101)
    assert ("a", 2) not in lru and lru.size_bytes == 30
    lru.put(("a", 3), "w", 10)
    assert lru.discard_where(lambda k: k[1] == 1) == 1
    assert len(lru) == 1 and lru.size_bytes == 10


def test_disabled_cache_holds_nothing() -> None:
    lru = ByteLRU(0)
    lru.put(("a", 1), "x", 1)
    assert len(lru) == 0 and lru.get(("a", 1)) is None


def test_index_cache_metrics() -> None:
    cache = IndexCache(1000)
    req = metric("thanos_store_index_cache_requests_total", item_type="Postings")
    hits = metric("thanos_store_index_cache_hits_total", item_type="Postings")
    ev = metric("thanos_store_index_cache_items_evicted_total", item_type="Postings")
    assert cache.get("Postings", "B1", 8) is None
    cache.put("Postings", "B1", 8, [1, 2], 600)
    assert cache.get("Postings", "B1", 8) == [1, 2]
    assert metric("thanos_store_index_cache_requests_total", item_type="Postings") == req + 2
    assert metric("thanos_store_index_cache_hits_total", item_type="Postings") == hits + 1
    cache.put("Postings", "B2", 8, [3], 600)  # evicts B1's entry
    assert metric("thanos_store_index_cache_items_evicted_total", item_type="Postings") == ev + 1
    assert metric("thanos_store_index_cache_items", item_type="Postings") == 1
    cache.drop_block("B2")
    assert metric("thanos_store_index_cache_items_size_bytes", item_type="Postings") == 0


def test_config_defaults_and_validation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from tidewell.storegateway.config import InvalidBucketStoreConfigError

    cfg = BucketStoreConfig()
    assert cfg.sync_interval == 900.0
    assert cfg.ignore_deletion_mark_delay == 3600.0
    assert cfg.index_cache.inmemory.max_size_bytes == 1 << 30
    assert cfg.resolved_sync_dir(tmp_path) == tmp_path / "tsdb-sync"
    cfg.validate()
    cfg.chunks_page_size_bytes = 3000
    with pytest.raises(InvalidBucketStoreConfigError, match="chunks-page-size-bytes"):
        cfg.validate()
    cfg = BucketStoreConfig(sync_interval=0)
    with pytest.raises(InvalidBucketStoreConfigError, match=r"-blocks-storage\.bucket-store\.sync"):
        cfg.validate()


def test_flags_are_mimirs_when_nested() -> None:
    from tidewell.util.config_tree import iter_leaves

    flags = {
        lf.flag: lf.default
        for lf in iter_leaves(BucketStoreConfig, ("blocks_storage", "bucket_store"))
    }
    prefix = "blocks-storage.bucket-store."
    assert flags[prefix + "sync-dir"] == ""
    assert flags[prefix + "sync-interval"] == 900.0
    assert flags[prefix + "ignore-deletion-marks-delay"] == 3600.0
    assert flags[prefix + "index-cache.inmemory.max-size-bytes"] == 1 << 30
    assert flags[prefix + "chunks-cache.inmemory.max-size-bytes"] == 512 << 20
    assert BucketStoreConfig().chunks_cache.inmemory.max_size_bytes == 512 << 20


@pytest.mark.serial  # a wall-clock bound or a race: alone on its core
def test_metrics_are_published_while_other_threads_add_item_types() -> None:
    """Queries fill the cache from worker threads: publishing the per-type gauges while
    another thread stores a new type (or evicts one for the first time) must not fail
    with "dictionary changed size during iteration" (a query's 500 once)."""
    cache = IndexCache(max_bytes=64)
    errors: list[BaseException] = []
    stop = threading.Event()

    def fill(offset: int) -> None:
        try:
            for i in range(300):
                cache.put(f"race{offset + i}", "b", i, b"", 16)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def publish() -> None:
        try:
            while not stop.is_set():
                cache.count("Postings", 1, 0)
        except BaseException as exc:
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=fill, args=(0,)),
                   threading.Thread(target=publish), threading.Thread(target=publish)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors
    evicted = sum(metric("thanos_store_index_cache_items_evicted_total", item_type=f"race{i}")
                  for i in range(300))
    assert evicted == 300 - 4  # 64 bytes hold four 16-byte items
