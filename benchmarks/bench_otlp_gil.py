"""Longest GIL hold while a large OTLP request is parsed and converted (issue 14).

``python -m benchmarks.bench_otlp_gil [--points N] [--pad BYTES]``: one gauge of N points
with an attribute value of BYTES bytes each (the e2e test's body, ``tests.support.large_push``).
A ticker thread sleeps 1 ms in a loop (as the event loop waits for ``/ready``); its longest
wake-up delay is the longest single stretch another thread held the GIL. Measured per step:
the whole-message upb parse and RW 1.0 serialisation (one C call each, as before), and the
piecewise ones that replaced them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import threading
import time
from collections.abc import Callable

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc

from tests.support.large_push import big_otlp_body
from tidewell.cli import SWITCH_INTERVAL_S
from tidewell.distributor import Distributor, DistributorConfig, Limits, Overrides
from tidewell.distributor.errors import PushError
from tidewell.ingest.embedded import EmbeddedLog
from tidewell.protocol.otlp import decode_otlp, decode_otlp_bytes
from tidewell.protocol.pieces import parse_in_pieces
from tidewell.ring import PartitionRing, PartitionRingDesc, PartitionState


def longest_hold(step: Callable[[], object]) -> tuple[float, float]:
    """(seconds the step took, longest wake-up delay of a 1 ms sleeper meanwhile)."""
    done = threading.Event()
    worst = [0.0]

    def tick() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            time.sleep(0.001)
            worst[0] = max(worst[0], time.perf_counter() - t0 - 0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.01)
    t0 = time.perf_counter()
    step()
    took = time.perf_counter() - t0
    done.set()
    ticker.join()
    return took, worst[0]


def push_step(rw1: bytes, data_dir: str) -> Callable[[], object]:
    """The distributor's push of the converted request (a 400: label values too long)."""
    desc = PartitionRingDesc()
    desc.add_partition(0, PartitionState.ACTIVE, 0)
    d = Distributor(DistributorConfig(), Overrides(Limits()), PartitionRing(desc),
                    EmbeddedLog(data_dir, partitions=1))

    def step() -> None:
        with contextlib.suppress(PushError):
            asyncio.run(d.push("bench", rw1))
    return step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=16_000)
    ap.add_argument("--pad", type=int, default=3000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    raw = big_otlp_body(args.points, args.pad, 1_700_000_000_000_000_000)
    parse_in_pieces(svc.ExportMetricsServiceRequest(), raw[:0])  # load the compiled scanner
    wr = decode_otlp(raw)
    tmp = tempfile.TemporaryDirectory()
    steps: dict[str, Callable[[], object]] = {
        "whole parse (before)": lambda: svc.ExportMetricsServiceRequest.FromString(raw),
        "piecewise parse": lambda: parse_in_pieces(svc.ExportMetricsServiceRequest(), raw),
        "whole serialise (before)": wr.SerializeToString,
        "convert + serialise in batches": lambda: decode_otlp_bytes(raw),
        "distributor push": push_step(wr.SerializeToString(), tmp.name),
    }
    print(f"{len(raw) / 2**20:.1f} MB OTLP, {args.points} points; median of {args.reps}")
    for name, step in steps.items():
        runs = sorted(longest_hold(step) for _ in range(args.reps))
        took, worst = runs[len(runs) // 2]
        print(f"  {name:32s} {took * 1000:8.1f} ms   longest GIL hold {worst * 1000:6.1f} ms")
    tmp.cleanup()


if __name__ == "__main__":
    main()
