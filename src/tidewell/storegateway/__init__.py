"""The store-gateway: blocks in object storage, queried like any other ``Queryable``.

- ``bucketindex``: the per-tenant ``bucket-index.json.gz`` (which blocks exist).
- ``gateway.StoreGateway``: the service; syncs bucket indexes, hands out queriers.
- ``querier.BucketStoreQuerier``: merges what the blocks return, deduplicated.
- ``bucket_block.BucketBlock``: one block read lazily by ranged GETs.
- ``cache``: byte-bounded LRU caches; ``config.BucketStoreConfig``: settings.

Nothing is imported here, so that users of ``bucketindex`` (the shipper) do not
pay for Numba.
"""
