"""Zone replicas hold identical data; strong reads always see acknowledged writes."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import numpy as np
import pytest

from tidewell.ingester import StaticLimits
from tidewell.model import Labels, Matcher, MatchType

from .conftest import new_ingester, new_log, record

pytestmark = [pytest.mark.timeout(60), pytest.mark.anyio]

P = 3


def snapshot(ing, tenant: str) -> list[tuple[Labels, list[int], list[int]]]:
    q = ing.querier(tenant, 0, 2**62)
    return [
        (s.labels, s.timestamps.tolist(), s.values.view(np.uint64).tolist())
        for s in q.select([Matcher(MatchType.REGEX, "__name__", ".+")])
    ]


async def test_two_zones_on_one_partition_hold_identical_data(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    rng = random.Random(3)
    series = [Labels.from_dict({"__name__": f"m{i % 3}", "i": str(i)}) for i in range(40)]

    async def push(n: int) -> None:
        for k in range(n):
            samples = []
            for s in rng.sample(series, 10):
                # mostly in order; some out-of-order, duplicate and conflicting samples
                ts = k * 1000 + rng.choice([0, 0, 0, -5000, -1000])
                samples.append((s, ts, float(rng.randint(0, 2))))
            tenant = rng.choice(["t1", "t2"])
            await log.produce([record(P, tenant, samples), record(1, tenant, samples)])

    limits = StaticLimits(ooo_window_s=3.0)
    a = new_ingester(log, str(tmp_path / "a"), "ingester-zone-a-3", limits=limits,
                     consume_from_position_at_startup="start")
    b = new_ingester(log, str(tmp_path / "b"), "ingester-zone-b-3", limits=limits,
                     consume_from_position_at_startup="start")
    await push(50)
    await a.start()
    await b.start()
    await push(100)
    await b.stop()  # zone b restarts in the middle of the stream
    await push(50)
    b = new_ingester(log, str(tmp_path / "b"), "ingester-zone-b-3", limits=limits)
    await b.start()
    await push(100)
    for ing in (a, b):
        await ing.wait_strong(10)
    assert a.group != b.group
    for tenant in ("t1", "t2"):
        sa, sb = snapshot(a, tenant), snapshot(b, tenant)
        assert len(sa) > 10 and sum(len(x[1]) for x in sa) > 300
        assert sa == sb
        qa, qb = a.querier(tenant, 0, 2**62), b.querier(tenant, 0, 2**62)
        assert qa.label_names() == qb.label_names()
        assert qa.label_values("i") == qb.label_values("i")
    await a.stop()
    await b.stop()
    await log.close()


async def test_strong_reads_see_every_acknowledged_write_under_load(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    ing = new_ingester(log, str(tmp_path / "ing"))
    await ing.start()
    stop = asyncio.Event()
    bulk = [Labels.from_dict({"__name__": "bulk", "i": str(i)}) for i in range(500)]

    async def background() -> None:
        k = 0
        while not stop.is_set():
            k += 1
            await log.produce([record(P, "t1", [(s, k * 1000, 1.0) for s in bulk])])

    async def writer(w: int, n: int) -> int:
        seen = 0
        ls = Labels.from_dict({"__name__": "ryw", "w": str(w)})
        for k in range(1, n + 1):
            await log.produce([record(P, "t1", [(ls, k, float(k))])])
            # the querier's part of X-Read-Consistency: strong
            await ing.wait_strong(10)
            (s,) = ing.querier("t1", k, k).select([Matcher.equal("w", str(w))])
            assert s.timestamps.tolist() == [k] and s.values.tolist() == [float(k)]
            seen += 1
        return seen

    bg = asyncio.create_task(background())
    counts = await asyncio.gather(*(writer(w, 60) for w in range(4)))
    stop.set()
    await bg
    assert counts == [60] * 4
    await ing.stop()
    await log.close()
