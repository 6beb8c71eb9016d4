"""The conformance scripts' data through the real storage: head → blocks → store-gateway.

Whenever a script's data changed before an ``eval``, every series is appended to a
fresh ``Head``, the head is cut into blocks the way the ingester cuts it
(``cut_ranges``/``block_series``, written by ``BlockWriter``), the blocks land in a
filesystem bucket with a bucket index, and a ``StoreGateway`` syncs and serves
them. Queries then read only through the store-gateway: chunk encoding, block
boundaries, postings, merging of blocks and the gateway's decode all take part.

Blocks span at least Prometheus's 2h; scripts whose data spans days get ranges of
a multiple of 2h so that no script has more than about eight blocks.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import numpy as np

from tidewell.model import Labels, SampleBatch
from tidewell.objstore import FilesystemBucket
from tidewell.objstore.bucketindex import update_bucket_index
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway
from tidewell.tsdb.block import BlockWriter
from tidewell.tsdb.head import Head
from tidewell.tsdb.head.compact import block_series, cut_ranges

sys.path.insert(0, str(Path(__file__).parent))

from promqltest import Eval, Outcome, QueryResult, Script

TENANT = "test"
BLOCK_RANGE = 7_200_000
MAX_BLOCKS = 8


def _batch(series: dict[Labels, tuple], hists: dict[Labels, tuple]) -> SampleBatch:
    labels = sorted(series.keys() | hists.keys())
    index = {lb: i for i, lb in enumerate(labels)}
    fl = [(index[lb], v[0], v[1]) for lb, v in series.items() if len(v[0])]
    hs = [(index[lb], v[0], v[1]) for lb, v in hists.items() if len(v[0])]
    b = SampleBatch(labels)
    if fl:
        b.series_index = np.concatenate([np.full(len(t), i, np.int32) for i, t, _ in fl])
        b.timestamps = np.concatenate([t for _, t, _ in fl]).astype(np.int64)
        b.values = np.concatenate([v for _, _, v in fl]).astype(np.float64)
    if hs:
        b.hist_series_index = np.concatenate([np.full(len(t), i, np.int32) for i, t, _ in hs])
        b.hist_timestamps = np.concatenate([t for _, t, _ in hs]).astype(np.int64)
        b.histograms = [h for _, _, hv in hs for h in hv]
    return b


def _block_range(series: dict[Labels, tuple], hists: dict[Labels, tuple]) -> int:
    times = [t for v in series.values() for t in (v[0][:1], v[0][-1:])]
    times += [t for v in hists.values() for t in (v[0][:1], v[0][-1:])]
    flat = np.concatenate(times) if times else np.zeros(1, np.int64)
    span = int(flat.max() - flat.min()) if len(flat) else 0
    ranges = -(-span // (BLOCK_RANGE * MAX_BLOCKS))  # ceil
    return BLOCK_RANGE * max(1, ranges)


class StorageQueryable:
    """Rebuilds the storage from a ``MemStore``'s content and serves it via a store-gateway."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.gateway: StoreGateway | None = None
        self.generation = 0
        """How many times the storage was (re)built."""
        self.blocks = 0
        """Blocks written over all builds."""

    def load(self, series: dict[Labels, tuple], hists: dict[Labels, tuple]) -> None:
        """Replace everything stored with ``series`` (labels → (ts, values, …)) and ``hists``
        (labels → (ts, histograms, …))."""
        self.close()
        self.generation += 1
        gen = self.root / f"g{self.generation}"
        head = Head(block_range_ms=_block_range(series, hists))
        # A series may switch between floats and histograms: both arrive in one batch, so
        # the histograms can be older than the floats appended before them.
        res = head.append(_batch(series, hists), ooo_window_ms=1 << 62)
        if res.rejected_total:
            raise AssertionError(f"the head refused conformance data: {res.first_error}")
        bucket = FilesystemBucket(gen / "bucket", fsync=False)
        ooo, inorder = cut_ranges(head, force=True)
        assert not ooo
        for lo, hi in inorder:
            w = BlockWriter(gen / "bucket" / TENANT, min_time=lo, max_time=hi,
                            chunk_range=head.block_range_ms)
            n = 0
            for labels, chunks in block_series(head, lo, hi):
                w.add_series_chunks(labels, chunks)
                n += 1
            if n:
                w.finish()
                self.blocks += 1
            else:
                w.abort()
        update_bucket_index(bucket, TENANT)
        self.gateway = StoreGateway(BucketStoreConfig(), bucket, gen / "sync")
        self.gateway.sync()

    def querier(self, tenant: str, mint: int, maxt: int):  # type: ignore[no-untyped-def]
        assert self.gateway is not None, "nothing loaded"
        return self.gateway.querier(TENANT, mint, maxt)

    def close(self) -> None:
        if self.gateway is not None:
            asyncio.run(self.gateway.stop())
            self.gateway = None
            shutil.rmtree(self.root / f"g{self.generation}", ignore_errors=True)


class StorageScript(Script):
    """A script whose queries read the real storage; the ``@`` re-runs of instant evals,
    which test the engine rather than storage, are left to the in-memory run."""

    def __init__(self, path: Path, root: Path) -> None:
        super().__init__(path)
        self.storage = StorageQueryable(root)
        self.loaded = -1

    def _at_cases(self, ev: Eval) -> list[tuple[str, int]]:
        return []

    def queryable(self) -> StorageQueryable:
        """The storage, reloaded if the script's data changed since."""
        if self.loaded != self.store.version:
            self.storage.load(self.store.series, self.store.hists)
            self.loaded = self.store.version
        return self.storage

    def _query(self, expr: str, start: int, end: int, step: int,
               instant: bool) -> QueryResult:
        q = self.queryable()
        if instant:
            return self.engine.instant_query(q, "test", expr, start)
        return self.engine.range_query(q, "test", expr, start, end, step)

    def run(self) -> list[Outcome]:
        try:
            return super().run()
        finally:
            self.storage.close()
