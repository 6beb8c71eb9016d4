"""``GET /compactor/jobs``: a tenant's planned job, then the same job finished, and
nothing of another tenant's, on a real compactor over a filesystem bucket."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import numpy as np

from tidewell.api.server import build_app
from tidewell.compactor.compactor import Compactor
from tidewell.compactor.config import CompactorConfig
from tidewell.compactor.job import upload_block
from tidewell.compactor.jobs_status import JobsStatus
from tidewell.compactor.routes import compactor_routes
from tidewell.model import Labels
from tidewell.objstore import FilesystemBucket, tenant_bucket
from tidewell.tsdb.block import write_block

H = 3_600_000
T0 = 1_699_920_000_000


def two_zone_blocks(bucket: FilesystemBucket, tenant: str, local: Path,
                    start: int = T0) -> list[str]:
    """The same 2 h of one series written by two zones: one merge job to plan."""
    ts = np.arange(start, start + 2 * H, 60_000, dtype=np.int64)
    series = [(Labels.from_dict({"__name__": "m", "t": tenant}), ts, ts / 1e3)]
    ids = []
    for zone in ("a", "b"):
        path, meta = write_block(local / tenant / zone, series, min_time=start,
                                 max_time=start + 2 * H)
        upload_block(tenant_bucket(bucket, tenant), path)
        ids.append(meta.ulid)
    return sorted(ids)


def test_jobs_planned_then_finished_per_tenant(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket")
    ids = {t: two_zone_blocks(bucket, t, tmp_path / "local") for t in ("a", "b")}
    comp = Compactor(bucket, CompactorConfig(), tmp_path / "c", clock=lambda: time.time() + 3600)
    app = build_app(compactor_routes(comp), multitenancy_enabled=True)

    async def get(tenant: str | None) -> httpx.Response:
        headers = {} if tenant is None else {"X-Scope-OrgID": tenant}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as c:
            return await c.get("/compactor/jobs", headers=headers)

    assert asyncio.run(get(None)).status_code == 401
    before = asyncio.run(get("a"))
    assert before.status_code == 200, before.text
    doc = before.json()
    assert doc["tenant"] == "a" and doc["running"] == [] and doc["finished"] == []
    [planned] = doc["planned"]
    assert sorted(planned["blocks"]) == ids["a"] and planned["owned"] is True
    assert (planned["min_time"], planned["max_time"]) == (T0, T0 + 2 * H)
    assert not any(i in before.text for i in ids["b"])
    # Looking plans without side effects: the status call marked nothing for deletion.
    assert comp.plan_tenant("a", mark_duplicates=False)[0].key == planned["key"]

    assert comp.compact()
    after = asyncio.run(get("a")).json()
    assert after["planned"] == [] and after["running"] == []
    [done] = after["finished"]
    assert done["key"] == planned["key"] and done["state"] == "finished"
    assert sorted(done["blocks"]) == ids["a"] and done["ended_at"] >= done["started_at"]
    other = asyncio.run(get("b")).json()
    assert [sorted(j["blocks"]) for j in other["finished"]] == [ids["b"]]
    assert not any(i in str(after) for i in ids["b"])
    assert asyncio.run(get("nobody")).json() == {"tenant": "nobody", "planned": [],
                                                 "running": [], "finished": []}


def test_a_failed_job_keeps_its_error_and_the_record_is_bounded(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket")
    two_zone_blocks(bucket, "a", tmp_path / "local")
    comp = Compactor(bucket, CompactorConfig(), tmp_path / "c", clock=lambda: time.time() + 3600)
    [job] = comp.plan_tenant("a")
    status = JobsStatus(clock=time.time, keep=2)
    status.started("a", job)
    assert [e["state"] for e in status.tenant("a")["running"]] == ["running"]
    status.ended("a", job, OSError("disk full"))
    for _ in range(3):
        status.started("a", job)
        status.ended("a", job)
    got = status.tenant("a")
    assert got["running"] == [] and [e["state"] for e in got["finished"]] == ["finished"] * 2
    status.started("a", job)
    status.ended("a", job, OSError("disk full"))
    failed = status.tenant("a")["finished"][0]
    assert failed["state"] == "failed" and failed["error"] == "OSError: disk full"
    assert status.tenant("b") == {"running": [], "finished": []}


def test_a_job_that_fails_in_the_runner_shows_failed_with_its_error(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket")
    ids = two_zone_blocks(bucket, "a", tmp_path / "local")
    for chunks in (tmp_path / "bucket" / "a" / ids[0] / "chunks").iterdir():
        chunks.unlink()  # the source cannot be read back: the merge fails
    comp = Compactor(bucket, CompactorConfig(), tmp_path / "c", clock=lambda: time.time() + 3600)
    assert not comp.compact()
    got = comp.jobs.tenant("a")
    assert got["running"] == []
    [failed] = got["finished"]
    assert failed["state"] == "failed" and sorted(failed["blocks"]) == ids and failed["error"]
