"""What the compactor is doing for a tenant: planned, running and recent jobs.

``JobsStatus`` is the job runner's record (jobs submitted and not done; the last
``keep`` finished or failed, per tenant). ``GET /compactor/jobs`` adds the planner's
output for the caller's tenant (``X-Scope-OrgID``) computed now without side effects, as
Mimir's ``/compactor/tenant/{tenant}/planned_jobs`` does, and answers for that tenant only.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tidewell.compactor.planner import Job

if TYPE_CHECKING:
    from tidewell.compactor.compactor import Compactor

__all__ = ["JobsStatus", "job_view", "jobs_routes"]

T = TypeVar("T")


def job_view(job: Job) -> dict[str, Any]:
    """A job as the JSON shows it: its key, stage, range and input blocks."""
    return {"key": job.key, "stage": job.stage, "group": job.group, "shard_id": job.shard_id,
            "range_ms": job.range_ms, "min_time": job.min_time, "max_time": job.max_time,
            "blocks": [b.block_id for b in job.blocks]}


class JobsStatus:
    """Thread-safe: the runner's threads report, HTTP requests read."""

    def __init__(self, clock: Callable[[], float], keep: int = 20) -> None:
        self.clock = clock
        self.keep = keep
        self._lock = threading.Lock()
        self._running: dict[str, dict[str, dict[str, Any]]] = {}
        self._done: dict[str, deque[dict[str, Any]]] = {}

    def track(self, tenant: str, job: Job, run: Callable[..., T], *args: Any, **kw: Any) -> T:
        """``run(*args, **kw)``, recorded as the job's run: running while it runs, then
        finished, or failed with its exception (which is raised again)."""
        self.started(tenant, job)
        try:
            out = run(*args, **kw)
        except BaseException as exc:
            self.ended(tenant, job, exc)
            raise
        self.ended(tenant, job)
        return out

    def started(self, tenant: str, job: Job) -> None:
        with self._lock:
            self._running.setdefault(tenant, {})[job.key] = {
                **job_view(job), "state": "running", "started_at": self.clock()}

    def ended(self, tenant: str, job: Job, error: BaseException | None = None) -> None:
        """The job finished (``error`` None) or failed."""
        with self._lock:
            entry = self._running.get(tenant, {}).pop(job.key, None) or job_view(job)
            entry.update(state="failed" if error else "finished", ended_at=self.clock())
            if error is not None:
                entry["error"] = f"{type(error).__name__}: {error}"
            self._done.setdefault(tenant, deque(maxlen=self.keep)).appendleft(entry)

    def tenant(self, tenant: str) -> dict[str, list[dict[str, Any]]]:
        """Running jobs (oldest first) and finished or failed ones (newest first)."""
        with self._lock:
            running = sorted(self._running.get(tenant, {}).values(),
                             key=lambda e: e["started_at"])
            return {"running": [dict(e) for e in running],
                    "finished": [dict(e) for e in self._done.get(tenant, ())]}


def jobs_routes(compactor: Compactor) -> list[Route]:
    """``GET /compactor/jobs``: the caller's tenant's jobs, planned ones with whether this
    compactor owns them (the ring may give a job to another instance)."""

    one_at_a_time = asyncio.Lock()  # planning reads the bucket: callers queue, not pile up

    def planned_jobs(tenant: str) -> list[Job]:
        if tenant not in compactor.tenants():  # no caches grown for names without blocks
            return []
        return compactor.plan_tenant(tenant, mark_duplicates=False)

    async def jobs(request: Request) -> Response:
        tenant = request.state.tenant
        async with one_at_a_time:
            planned = await asyncio.to_thread(planned_jobs, tenant)
        ran = compactor.jobs.tenant(tenant)
        running = {e["key"] for e in ran["running"]}  # its sources are still there
        return JSONResponse({
            "tenant": tenant,
            "planned": [{**job_view(j), "owned": compactor.owns_job(tenant, j)}
                        for j in planned if j.key not in running],
            **ran})

    return [Route("/compactor/jobs", jobs)]
