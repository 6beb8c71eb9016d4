"""Send a pre-encoded ``Batch`` with bounded concurrency and time every request.

One asyncio task per shard sends that shard's requests in order (so a series'
samples never overtake each other), which bounds the requests in flight to
the number of shards. Nothing is encoded here: the clock only sees HTTP.
Failed requests are counted, not retried, so "accepted" means accepted.

``send_stream`` does the same for loads too large to pre-encode: a thread
encodes round after round (``Workload.stream``) just ahead of the senders.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import httpx

from benchmarks.wire import RW1_HEADERS, RW2_HEADERS
from benchmarks.workload import Batch, EncodedRequest

__all__ = ["SendResult", "send_batch", "send_batch_sync", "send_stream", "send_stream_sync"]


@dataclass
class SendResult:
    wall_s: float = 0.0
    accepted_samples: int = 0
    failed_samples: int = 0
    requests: int = 0
    latencies_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # "status: body" -> count

    @property
    def samples_per_s(self) -> float:
        return self.accepted_samples / self.wall_s if self.wall_s > 0 else 0.0

    def first_error(self) -> str:
        return next(iter(self.errors), "")


async def send_batch(
    url: str,
    batch: Batch,
    *,
    protocol: int = 1,
    headers: dict[str, str] | None = None,
    timeout_s: float = 30.0,
    deadline_s: float | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SendResult:
    """POST every request of ``batch`` to ``url``; one ordered stream per shard.

    ``deadline_s`` stops sending new requests after that many seconds (the
    result then covers what was sent).
    """
    hdrs = dict(RW1_HEADERS if protocol == 1 else RW2_HEADERS)
    hdrs.update(headers or {})
    result = SendResult()
    limits = httpx.Limits(max_connections=len(batch.shards) + 1, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits, transport=transport) as client:
        start = time.perf_counter()
        stop_at = start + deadline_s if deadline_s else None

        async def run_shard(reqs: list) -> None:
            for req in reqs:
                if stop_at is not None and time.perf_counter() > stop_at:
                    return
                await _post(client, url, req, hdrs, result)

        await asyncio.gather(*(run_shard(s) for s in batch.shards))
        result.wall_s = time.perf_counter() - start
    return result


async def _post(client: httpx.AsyncClient, url: str, req: EncodedRequest,
                hdrs: dict[str, str], result: SendResult) -> None:
    """POST one request and account for it in ``result``."""
    t0 = time.perf_counter()
    try:
        resp = await client.post(url, content=req.body, headers=hdrs)
        status, text = resp.status_code, resp.text[:200]
    except httpx.HTTPError as exc:
        status, text = 0, f"{type(exc).__name__}: {exc}"[:200]
    result.latencies_s.append(time.perf_counter() - t0)
    result.requests += 1
    if 200 <= status < 300:
        result.accepted_samples += req.samples
    else:
        result.failed_samples += req.samples
        key = f"HTTP {status}: {text.strip()}" if status else text
        result.errors[key] = result.errors.get(key, 0) + 1


async def send_stream(
    url: str,
    rounds: Iterable[list[list[EncodedRequest]]],
    *,
    shards: int,
    protocol: int = 1,
    queue_depth: int = 64,
    timeout_s: float = 30.0,
    deadline_s: float | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SendResult:
    """Like ``send_batch``, for ``rounds`` (``Workload.stream``) encoded while sending.

    A worker thread pulls the next round while the senders post the previous
    one; each shard queues at most ``queue_depth`` requests, so at most about
    one round is held encoded. ``deadline_s`` stops sending (and encoding).
    """
    hdrs = dict(RW1_HEADERS if protocol == 1 else RW2_HEADERS)
    result = SendResult()
    queues: list[asyncio.Queue[EncodedRequest | None]] = [
        asyncio.Queue(maxsize=queue_depth) for _ in range(shards)
    ]
    limits = httpx.Limits(max_connections=shards + 1, max_keepalive_connections=64)
    it: Iterator[list[list[EncodedRequest]]] = iter(rounds)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits, transport=transport) as client:
        start = time.perf_counter()
        stop_at = start + deadline_s if deadline_s else None

        def late() -> bool:
            return stop_at is not None and time.perf_counter() > stop_at

        async def produce() -> None:
            try:
                while not late():
                    rd = await asyncio.to_thread(next, it, None)
                    if rd is None:
                        return
                    for q, reqs in zip(queues, rd, strict=True):
                        for req in reqs:
                            await q.put(req)
            finally:
                for q in queues:
                    await q.put(None)

        async def run_shard(q: asyncio.Queue[EncodedRequest | None]) -> None:
            while (req := await q.get()) is not None:
                if not late():
                    await _post(client, url, req, hdrs, result)

        await asyncio.gather(produce(), *(run_shard(q) for q in queues))
        result.wall_s = time.perf_counter() - start
    return result


def send_stream_sync(url: str, rounds: Iterable[list[list[EncodedRequest]]],
                     **kwargs: object) -> SendResult:
    return asyncio.run(send_stream(url, rounds, **kwargs))  # type: ignore[arg-type]


def send_batch_sync(url: str, batch: Batch, **kwargs: object) -> SendResult:
    return asyncio.run(send_batch(url, batch, **kwargs))  # type: ignore[arg-type]
