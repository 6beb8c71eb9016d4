"""The compactor: merges a tenant's blocks, removes the zones' duplicate copies,
applies retention and writes the bucket index (Mimir's compactor).

- ``planner``: which blocks to merge (block ranges, groups, windows, jobs).
- ``job``: download, merge (``tidewell.tsdb.block.merge``), upload, mark sources.
- ``cleaner``: retention, deletion of marked and partial blocks, the bucket index.
- ``compactor.Compactor``: the service over the tenants this instance owns.
"""
