"""The deduplicate filter of block loading: a block is not served once a compacted
successor holding all its sources is (``objstore.blockdedup``).

Mimir leaves this filter out of its store-gateways, because a gateway dropping a
source before the querier knows of the successor fails the querier's consistency
check; its queriers then read both blocks until the source's deletion mark is
older than ``ignore-deletion-marks-delay``. We keep the filter and make it safe:

- the successor must have been uploaded at least ``successor_delay`` ago. A
  gateway that loads every block (one process) drops the source in the same sync
  that adds the successor (delay 0); sharded gateways wait the queriers' upload
  grace, by when the successor's owner has loaded it;
- queriers apply the same filter (``querier.blocks``), and count a source as
  queried when its successor was.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from tidewell.objstore import Bucket
from tidewell.objstore.blockdedup import BlockSourcesCache, find_successors
from tidewell.objstore.bucketindex import IndexBlock
from tidewell.storegateway import metrics as m

__all__ = ["DeduplicateFilter"]

log = logging.getLogger("tidewell.storegateway")


class DeduplicateFilter:
    """Finds the blocks of a tenant whose successor has been uploaded ``successor_delay``
    seconds or more ago."""

    def __init__(self, successor_delay: float) -> None:
        self.successor_delay = successor_delay
        self._sources = BlockSourcesCache()
        self._replaced: dict[str, int] = {}

    def successors(
        self, tb: Bucket, tenant: str, blocks: Mapping[str, IndexBlock]
    ) -> dict[str, str]:
        """Replaced block ID → its successor's ID, among ``blocks`` (all the tenant's
        blocks still served, by ID; ``tb`` is the tenant's bucket), whatever their age."""
        sources = self._sources.get(tb, tenant, blocks)
        self._sources.forget(tenant, blocks)
        return {dup: succ.block_id for dup, succ in find_successors(sources).items()}

    def settled(
        self, successors: Mapping[str, str], blocks: Mapping[str, IndexBlock], now: float
    ) -> set[str]:
        """The replaced blocks whose successor was uploaded ``successor_delay`` or more ago."""
        return {dup for dup, succ in successors.items()
                if now - blocks[succ].uploaded_at >= self.successor_delay}

    def filter(
        self, tb: Bucket, tenant: str, blocks: Mapping[str, IndexBlock], now: float
    ) -> dict[str, IndexBlock]:
        """``blocks`` without the ones a settled successor replaced."""
        successors = self.successors(tb, tenant, blocks)
        gone = self.settled(successors, blocks, now)
        self._replaced[tenant] = len(gone)
        m.BLOCKS_META_SYNCED.labels("duplicate").set(sum(self._replaced.values()))
        for dup in sorted(gone):
            log.debug("block replaced by its compacted successor: tenant=%s block=%s "
                      "successor=%s", tenant, dup, successors[dup])
        return {k: v for k, v in blocks.items() if k not in gone}
