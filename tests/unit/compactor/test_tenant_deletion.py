"""/compactor/delete_tenant: the tenant's blocks and index go, other tenants stay."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tidewell.api.server import build_app
from tidewell.compactor.compactor import Compactor
from tidewell.compactor.config import CompactorConfig
from tidewell.compactor.routes import compactor_routes
from tidewell.objstore import FilesystemBucket, tenant_bucket
from tidewell.objstore.bucketindex import BucketIndexNotFoundError, read_bucket_index

from .test_compactor import _zone_copies


def test_delete_tenant_removes_blocks_then_everything_after_the_cleanup_delay(
    tmp_path: Path,
) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket")
    for t in ("gone", "kept"):
        _zone_copies(bucket, t, tmp_path / "local")
    now = [time.time() + 3600]
    comp = Compactor(bucket, CompactorConfig(), tmp_path / "c", clock=lambda: now[0])
    comp.clean()
    app = build_app(compactor_routes(comp), multitenancy_enabled=True)

    async def call(method: str, path: str, tenant: str | None) -> httpx.Response:
        headers = {} if tenant is None else {"X-Scope-OrgID": tenant}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as c:
            return await c.request(method, path, headers=headers)

    status = asyncio.run(call("GET", "/compactor/delete_tenant_status", "gone"))
    assert status.json() == {"tenant_id": "gone", "blocks_deleted": False}
    assert asyncio.run(call("POST", "/compactor/delete_tenant", "gone")).status_code == 200
    assert asyncio.run(call("POST", "/compactor/delete_tenant", None)).status_code == 401

    assert comp.compact()  # the marked tenant is not compacted; the other one is
    assert len(comp.live_blocks("gone")) == 2 and len(comp.live_blocks("kept")) == 1
    comp.clean()
    status = asyncio.run(call("GET", "/compactor/delete_tenant_status", "gone"))
    assert status.json() == {"tenant_id": "gone", "blocks_deleted": True}
    try:
        read_bucket_index(bucket, "gone")
        raise AssertionError("bucket index of a deleted tenant still exists")
    except BucketIndexNotFoundError:
        pass
    assert len(read_bucket_index(bucket, "kept").blocks) == 3  # new block + 2 marked sources
    assert list(tenant_bucket(bucket, "gone").iter_prefix("")) != []  # the mark stays
    now[0] += 6 * 3600 + 60
    comp.clean()
    assert list(tenant_bucket(bucket, "gone").iter_prefix("")) == []
    assert len(read_bucket_index(bucket, "kept").blocks) == 3
