"""Check 1: each distributor produced records and the log acknowledged them, recently.

The guide says to look for successful Produce acknowledgements in the
distributors' logs; their counters say the same without grepping: over the
window, records enqueued (``cortex_ingest_storage_writer_produce_records_enqueued_total``)
minus records failed (``…_produce_records_failed_total``, by reason) were
acknowledged by the broker. Counters only say "since start", so each
distributor is scraped twice, ``window`` apart.
"""

from __future__ import annotations

import asyncio

import httpx

from tidewell.tool.verify.report import CheckResult, Status
from tidewell.tool.verify.scrape import MetricSnapshot, by_label, scrape, total

__all__ = ["check_distributors"]

CHECK = "produce"
ENQUEUED = "cortex_ingest_storage_writer_produce_records_enqueued_total"
FAILED = "cortex_ingest_storage_writer_produce_records_failed_total"


def judge(name: str, before: MetricSnapshot, after: MetricSnapshot,
          window_s: float) -> CheckResult:
    """The verdict for one distributor from two scrapes ``window_s`` apart."""
    if ENQUEUED not in after:
        return CheckResult(CHECK, name, Status.FAIL,
                           f"no {ENQUEUED} in /metrics: is this a distributor?")
    produced = total(after, ENQUEUED) - total(before, ENQUEUED)
    failed_by = {reason: n - by_label(before, FAILED, "reason").get(reason, 0.0)
                 for reason, n in by_label(after, FAILED, "reason").items()}
    failed_by = {r: n for r, n in failed_by.items() if n > 0}
    failed = sum(failed_by.values())
    acked = produced - failed
    span = f"in the last {window_s:g}s"
    reasons = ", ".join(f"{r}: {n:g}" for r, n in sorted(failed_by.items()))
    if produced <= 0:
        return CheckResult(CHECK, name, Status.WARN,
                           f"no records produced {span} ({total(after, ENQUEUED):g} since "
                           "start): is anything remote-writing to it?")
    if acked <= 0:
        return CheckResult(CHECK, name, Status.FAIL,
                           f"{produced:g} records produced {span}, none acknowledged by the "
                           f"log ({reasons})")
    if failed:
        return CheckResult(CHECK, name, Status.WARN,
                           f"{acked:g} records acknowledged {span}, {failed:g} failed "
                           f"({reasons})")
    return CheckResult(CHECK, name, Status.PASS,
                       f"{acked:g} records produced and acknowledged {span}, none failed")


async def check_distributors(distributors: dict[str, str], window_s: float,
                             timeout_s: float = 5.0) -> list[CheckResult]:
    """One line per distributor (``name -> URL``); FAIL when none is known or one is down."""
    if not distributors:
        return [CheckResult(CHECK, "distributors", Status.FAIL,
                            "no distributor to check: pass --distributor URL (or dns+HOST:PORT)")]
    async with httpx.AsyncClient(timeout=timeout_s) as client:

        async def one(name: str, url: str) -> CheckResult:
            subject = f"{name} ({url})" if name != url else url
            try:
                before = await scrape(client, url)
                await asyncio.sleep(window_s)
                after = await scrape(client, url)
            except httpx.HTTPError as exc:
                return CheckResult(CHECK, subject, Status.FAIL,
                                   f"/metrics does not answer: {type(exc).__name__}: {exc}")
            return judge(subject, before, after, window_s)

        return list(await asyncio.gather(*(one(n, u) for n, u in distributors.items())))
