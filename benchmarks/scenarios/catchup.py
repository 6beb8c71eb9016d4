"""When has a system *stored* what it acknowledged? Polled through its query API.

Tidewell acknowledges a write once the log holds it; its ingester reads the log
afterwards. Throughput and replay figures must count until the data is
queryable, so the harness polls for the last sample of every load stream
(``Workload.probes``): exact-label ``timestamp()`` queries, cheap for both
systems. A final full count checks that every series of the last round is there.
"""

from __future__ import annotations

import time

import httpx

from benchmarks.launch import Server
from benchmarks.scenarios.common import NotAvailable
from benchmarks.workload import Workload

__all__ = ["Probe", "check_complete", "selector", "wait_caught_up"]


def selector(labels: tuple[tuple[str, str], ...]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"')

    return "{" + ", ".join(f'{k}="{esc(v)}"' for k, v in labels) + "}"


def _probe(client: httpx.Client, srv: Server, labels, ts_ms: int) -> bool | None:
    params = {"query": f"timestamp({selector(labels)})", "time": f"{ts_ms / 1000 + 1:.3f}"}
    try:
        resp = client.get(srv.api_url("query"), params=params)
    except httpx.HTTPError:
        return False
    if resp.status_code == 404:
        return None
    if resp.status_code != 200:
        return False
    res = resp.json()["data"]["result"]
    return bool(res) and float(res[0]["value"][1]) >= ts_ms / 1000 - 1e-6


Probe = tuple[tuple[tuple[str, str], ...], int]


STALL_S = 30.0


def wait_caught_up(
    srv: Server, probes: list[Probe], wait_s: float = 120.0, first: Probe | None = None
) -> float | None:
    """Seconds until every probe (``Workload.probes``) is queryable; None: no query API.

    ``first`` (``Workload.first_probe``) tells a slow consumer from lost
    writes: if even that sample is not queryable after ``STALL_S``, give up.
    """
    t0 = time.perf_counter()
    pending = list(probes)
    with httpx.Client(timeout=30.0) as client:
        while pending:
            if first is not None and time.perf_counter() - t0 > STALL_S:
                ok = _probe(client, srv, *first)
                if ok is None:
                    return None
                if not ok:
                    raise NotAvailable(
                        f"writes answered 2xx but not even the first sample is queryable "
                        f"after {STALL_S:.0f}s"
                    )
                first = None
            still = []
            for labels, ts in pending:
                ok = _probe(client, srv, labels, ts)
                if ok is None:
                    return None
                if not ok:
                    still.append((labels, ts))
            pending = still
            if pending:
                if time.perf_counter() - t0 > wait_s:
                    raise NotAvailable(f"acknowledged samples not queryable after {wait_s:.0f}s")
                time.sleep(0.05)
    return time.perf_counter() - t0


def check_complete(srv: Server, wl: Workload, round_index: int | None = None) -> bool:
    """Every series has its sample of a round stored (False: no query API).

    ``round_index`` defaults to ``wl``'s last generated round; an earlier round
    is checked at its own time, so later samples do not count.

    One ``timestamp()`` query per metric name: over several names it would drop
    the names and collide (Prometheus rejects that, rightly).
    """
    if round_index is None:
        assert wl.last_round is not None
        round_index = wl.last_round.index
    last_base_s = wl.round_start_ms(round_index) / 1000
    at = f"{last_base_s + wl.interval_ms / 1000 - 0.001:.3f}"
    seen = 0
    with httpx.Client(timeout=60.0) as client:
        for name in wl.names:
            expr = f"count(timestamp({name}) >= {last_base_s:.3f})"
            resp = client.get(srv.api_url("query"), params={"query": expr, "time": at})
            if resp.status_code == 404:
                return False
            if resp.status_code != 200:
                raise NotAvailable(
                    f"completeness check failed: HTTP {resp.status_code} {resp.text[:150]}"
                )
            res = resp.json()["data"]["result"]
            seen += int(float(res[0]["value"][1])) if res else 0
    if seen != wl.spec.series:
        raise NotAvailable(
            f"only {seen}/{wl.spec.series} series have their last acknowledged sample stored"
        )
    return True
