"""The store-gateway: blocks in object storage, queried like any other ``Queryable``.

- ``gateway.StoreGateway``: the service; syncs bucket indexes, hands out queriers.
- ``querier.BucketStoreQuerier``: merges what the blocks return, deduplicated.
- ``bucket_block.BucketBlock``: one block read lazily by ranged GETs.
- ``cache``: byte-bounded LRU caches; ``config.BucketStoreConfig``: settings.

The bucket index lives in ``tidewell.objstore.bucketindex`` (ingester, compactor and
store-gateway all read it). Nothing is imported here, so users of one module do not
pay for Numba.
"""
