"""The querier's view of store-gateways in a cluster (Mimir's blocks-store queryable).

Store-gateways shard blocks between them (each block on replication-factor
gateways, see ``tidewell.storegateway.sharding``), so a query:

1. finds the blocks of its time range in the tenant's bucket index
   (``BucketIndexBlocksFinder``, read from the bucket and cached a few seconds);
2. maps every block to its owners in the store-gateway ring (ACTIVE, healthy),
   picks one owner at random per block and asks each chosen gateway, in
   parallel, for exactly its blocks;
3. every gateway answers which of those blocks it searched; blocks not searched
   (the gateway failed, or has not loaded them yet) are asked again of another
   owner, never one already tried for that block, up to ``MAX_FETCH_ATTEMPTS``
   rounds in all;
4. fails with ``StoreConsistencyCheckError`` naming the blocks no owner
   answered for, except blocks uploaded less than ``upload_grace_s`` ago
   (gateways discover new blocks at their next sync; meanwhile ingesters still
   hold that data), which are only tried, and blocks whose compacted successor
   answered (its gateway may have dropped the source already).

Blocks replaced by a compacted successor uploaded ``upload_grace_s`` or more ago
are not asked for at all (``storegateway.dedup_filter``, the rule gateways follow),
so no block is read together with its successor.

A samples hint (``SelectHints.max_samples``, a range function the engine may
shard) is shared between the gateways asked in parallel in proportion to the
time their blocks cover of the query range, so together they never decode more
than it; a gateway whose share is too small refuses (before decoding) and the
engine shards, which costs a round of selects when the data is skewed in time.

Unlike Mimir, blocks in their upload grace are retried on other owners too (it
costs nothing when they answer), and an attempt still asks the gateways it can
when some block has no owner left. A 4xx answer (e.g. a series limit) fails the
query at once: another gateway would answer the same.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from tidewell.model import Matcher, SelectHints, SelectLimitError, Series
from tidewell.objstore import Bucket, tenant_bucket
from tidewell.objstore.bucketindex import (
    BucketIndex,
    BucketIndexNotFoundError,
    IndexBlock,
    check_not_stale,
    read_bucket_index,
)
from tidewell.querier import metrics
from tidewell.querier.merge import merge_answers
from tidewell.querier.remote import (
    RemoteClients,
    RemoteQuerier,
    RemoteQueryable,
    RemoteQueryError,
)
from tidewell.ring.instance_ring import InstanceRingSource
from tidewell.storegateway.dedup_filter import DeduplicateFilter
from tidewell.util.executors import shared_executor
from tidewell.util.expiring import ExpiringCache

__all__ = [
    "MAX_FETCH_ATTEMPTS",
    "BlocksStoreQuerier",
    "BlocksStoreQueryable",
    "BucketIndexBlocksFinder",
    "StoreConsistencyCheckError",
    "time_shares",
]

_log = logging.getLogger("tidewell.querier")
T = TypeVar("T")

MAX_FETCH_ATTEMPTS = 3
_MIN_TIME, _MAX_TIME = -(2**63), 2**63 - 1
_POOL_THREADS = 16
"""Calls to store-gateways in flight, over all queries of the process."""
_MISSING = object()


class StoreConsistencyCheckError(RemoteQueryError):
    """Some blocks could not be queried from any of their store-gateways."""

    def __init__(self, block_ids: Sequence[str]) -> None:
        self.block_ids = sorted(block_ids)
        super().__init__(
            "store-gateways",
            "failed to fetch some blocks (err-mimir-store-consistency-check-failed). "
            f"The failed blocks are: {' '.join(self.block_ids)}",
        )


class BucketIndexBlocksFinder:
    """A tenant's blocks overlapping a time range, from its bucket index.

    The index is read at most every ``ttl_s`` seconds per tenant, and at most
    ``max_tenants`` indexes are kept (the tenant is a request's header: any
    number of them may be asked for); one older than ``max_stale_period_s`` fails
    the query (``BucketIndexTooOldError``). Blocks the
    store-gateways do not load are left out, by the same rules: marked for
    deletion more than ``ignore_deletion_mark_delay_s`` ago, or starting within
    ``ignore_blocks_within_s`` of now (when > 0).
    """

    def __init__(
        self,
        bucket: Bucket,
        *,
        ttl_s: float = 10.0,
        max_tenants: int = 1000,
        ignore_deletion_mark_delay_s: float = 3600.0,
        ignore_blocks_within_s: float = 0.0,
        max_stale_period_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bucket = bucket
        self.max_stale_period_s = max_stale_period_s
        self.ttl_s = ttl_s
        self.ignore_deletion_mark_delay_s = ignore_deletion_mark_delay_s
        self.ignore_blocks_within_s = ignore_blocks_within_s
        self.clock = clock
        self._cache: ExpiringCache[str, BucketIndex | None] = ExpiringCache(ttl_s, max_tenants)

    @property
    def cached_tenants(self) -> int:
        """How many tenants' indexes are held now."""
        return len(self._cache)

    def index(self, tenant: str) -> BucketIndex | None:
        """The tenant's bucket index (None if it has none yet), at most ``ttl_s`` old."""
        cached = self._cache.get(tenant, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        try:
            index: BucketIndex | None = read_bucket_index(self.bucket, tenant)
        except BucketIndexNotFoundError:
            index = None
        self._cache.put(tenant, index)
        return index

    def blocks(self, tenant: str, mint: int, maxt: int) -> list[IndexBlock]:
        index = self.index(tenant)
        if index is None:
            return []
        now = self.clock()
        check_not_stale(index, now=now, max_stale_period=self.max_stale_period_s)
        marks = index.deletion_marks()
        recent_ms = int((now - self.ignore_blocks_within_s) * 1000)
        out = []
        for b in index.blocks:
            mark = marks.get(b.block_id)
            if mark is not None and now - mark.deletion_time > self.ignore_deletion_mark_delay_s:
                continue
            if self.ignore_blocks_within_s > 0 and b.min_time > recent_ms:
                continue
            if b.within(mint, maxt):
                out.append(b)
        return out


class BlocksStoreQueryable:
    """``Queryable`` over the store-gateways of a cluster; see the module docstring.

    ``ring`` supplies the store-gateway ring; ``client_for`` the client of one
    gateway's base URL (by default a ``RemoteQueryable`` that does not retry: the
    next attempt goes to another owner).
    """

    def __init__(
        self,
        finder: BucketIndexBlocksFinder,
        ring: InstanceRingSource,
        *,
        upload_grace_s: float,
        timeout_s: float = 30.0,
        client_for: Callable[[str], RemoteQueryable] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.finder = finder
        self.ring = ring
        self.upload_grace_s = upload_grace_s
        self.clock = clock
        self.dedup = DeduplicateFilter(upload_grace_s)
        self._clients = RemoteClients(client_for or (
            lambda url: RemoteQueryable(url, timeout_s=timeout_s, retries=0)))

    def querier(self, tenant: str, mint: int, maxt: int) -> BlocksStoreQuerier:
        return BlocksStoreQuerier(self, tenant, mint, maxt)

    def blocks(self, tenant: str, mint: int, maxt: int) -> tuple[list[IndexBlock], dict[str, str]]:
        """The blocks to ask for, and every replaced block → its successor."""
        served = {b.block_id: b for b in self.finder.blocks(tenant, _MIN_TIME, _MAX_TIME)}
        successors = self.dedup.successors(tenant_bucket(self.finder.bucket, tenant), tenant,
                                           served)
        skip = self.dedup.settled(successors, served, self.clock())
        return [b for b in served.values()
                if b.within(mint, maxt) and b.block_id not in skip], successors

    def client(self, url: str) -> RemoteQueryable:
        return self._clients.get(url)

    def clients_for(
        self, block_ids: Sequence[str], exclude: dict[str, set[str]]
    ) -> dict[str, list[str]]:
        """Gateway URL → the blocks to ask it for: one random owner per block, not one in
        ``exclude[block]``. Blocks with no such owner are left out."""
        ring = self.ring.instance_ring()
        out: dict[str, list[str]] = {}
        for block_id in block_ids:
            urls = [f"http://{o.addr}" for o in ring.block_owners(block_id)]
            random.shuffle(urls)
            tried = exclude.get(block_id, set())
            url = next((u for u in urls if u not in tried), None)
            if url is not None:
                out.setdefault(url, []).append(block_id)
        return out

    def close(self) -> None:
        self._clients.close()


class BlocksStoreQuerier:
    """One tenant and time range over the store-gateways (a ``Querier``)."""

    def __init__(self, qa: BlocksStoreQueryable, tenant: str, mint: int, maxt: int) -> None:
        self.qa, self.tenant, self.mint, self.maxt = qa, tenant, mint, maxt

    def select(self, matchers: Sequence[Matcher],
               hints: SelectHints | None = None) -> list[Series]:
        if hints is None or not hints.max_samples:
            return merge_answers(self._query(lambda q: q.select_blocks(matchers, hints)))
        limit = hints.max_samples
        shares: dict[str, float] = {}

        def fetch(q: RemoteQuerier) -> tuple[list[Series], list[str]]:
            part = math.ceil(limit * sum(shares.get(b, 0.0) for b in q.block_ids))
            try:
                return q.select_blocks(matchers, replace(hints, max_samples=max(1, part)))
            except SelectLimitError as exc:
                if exc.what != "samples":
                    raise
                raise SelectLimitError("samples", limit, exc.series, exc.samples) from exc

        merged = merge_answers(self._query(fetch, shares))
        held = sum(len(s.timestamps) for s in merged)
        if held > limit:
            raise SelectLimitError("samples", limit, len(merged), held)
        return merged

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        answers = self._query(lambda q: q.label_names_blocks(matchers))
        return sorted({n for names in answers for n in names})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        answers = self._query(lambda q: q.label_values_blocks(name, matchers))
        return sorted({v for values in answers for v in values})

    def _query(self, fetch: Callable[[RemoteQuerier], tuple[T, list[str]]],
               shares: dict[str, float] | None = None) -> list[T]:
        """``fetch`` on the owners of every block in range, retrying missing blocks;
        ``shares`` is filled first with each block's part of the time they cover."""
        blocks, successors = self.qa.blocks(self.tenant, self.mint, self.maxt)
        if not blocks:
            metrics.STORE_GATEWAYS_HIT.observe(0)
            return []
        if shares is not None:
            shares.update(time_shares(blocks, self.mint, self.maxt))
        metrics.BLOCKS_FOUND.inc(len(blocks))
        metrics.BLOCKS_QUERIED.inc(len(blocks))
        remaining = [b.block_id for b in blocks]
        attempted: dict[str, set[str]] = {}
        touched: set[str] = set()
        answers: list[T] = []
        for attempt in range(1, MAX_FETCH_ATTEMPTS + 1):
            plan = self.qa.clients_for(remaining, attempted)
            if not plan:
                break
            if attempt > 1:
                _log.info("retrying blocks on other store-gateways: tenant=%s attempt=%d "
                          "blocks=%d", self.tenant, attempt, len(remaining))
            pool = shared_executor("querier-sg", _POOL_THREADS)
            futures = {url: pool.submit(self._ask, url, ids, fetch)
                       for url, ids in plan.items()}
            queried: set[str] = set()
            for url, ids in plan.items():
                touched.add(url)
                for block_id in ids:
                    attempted.setdefault(block_id, set()).add(url)
                got = futures[url].result()
                if got is not None:
                    answers.append(got[0])
                    queried.update(set(got[1]) & set(ids))
            remaining = [b for b in remaining if b not in queried]
            if not remaining:
                metrics.STORE_GATEWAY_REFETCHES.observe(attempt - 1)
                break
        metrics.STORE_GATEWAYS_HIT.observe(len(touched))
        metrics.CONSISTENCY_CHECKS.inc()
        if remaining:
            done = {b.block_id for b in blocks}.difference(remaining)
            remaining = [b for b in remaining if successors.get(b) not in done]
        if remaining:
            self._check(blocks, set(remaining))
        return answers

    def _ask(
        self, url: str, ids: list[str], fetch: Callable[[RemoteQuerier], tuple[T, list[str]]]
    ) -> tuple[T, list[str]] | None:
        """One gateway's answer, or None when it failed in a way another owner may not."""
        q = self.qa.client(url).blocks_querier(self.tenant, self.mint, self.maxt, ids)
        try:
            return fetch(q)
        except RemoteQueryError as exc:
            if exc.is_client:
                raise
            _log.warning("store-gateway failed, its blocks go to another owner: %s", exc)
            return None

    def _check(self, blocks: list[IndexBlock], missing: set[str]) -> None:
        """Raise unless every missing block was uploaded too recently to be required."""
        now = self.qa.clock()
        required = [b.block_id for b in blocks if b.block_id in missing
                    and now - b.uploaded_at >= self.qa.upload_grace_s]
        if required:
            metrics.CONSISTENCY_CHECKS_FAILED.inc()
            raise StoreConsistencyCheckError(required)
        _log.debug("blocks uploaded recently not found yet: tenant=%s blocks=%s",
                   self.tenant, sorted(missing))


def time_shares(blocks: Sequence[IndexBlock], mint: int, maxt: int) -> dict[str, float]:
    """Each block's part (summing to 1) of the time the blocks cover of ``[mint, maxt]``."""
    spans = {b.block_id: max(0, min(maxt + 1, b.max_time) - max(mint, b.min_time))
             for b in blocks}
    total = sum(spans.values())
    if total == 0:
        return {b: 1 / len(spans) for b in spans}
    return {b: span / total for b, span in spans.items()}
