"""``python -m benchmarks run [scenario…] [--scale S]``: run, print, append to BENCHMARKS.md.

Examples::

    python -m benchmarks run                      # the six default scenarios, full size
    python -m benchmarks run hour --scale 0.05 --reps 1 --no-append
    python -m benchmarks run write query --scale 0.1 --reps 3
    python -m benchmarks run write --systems prometheus --no-append
    python -m benchmarks run histogram --systems tidewell,prometheus3 --scale 0.5 --reps 1
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.launch import (
    Prometheus3Server,
    PrometheusServer,
    VictoriaMetricsServer,
    ensure_peers,
    log_progress,
    pin_self,
)
from benchmarks.report import append_report, render_report, render_table
from benchmarks.scenarios import DEFAULT_SCENARIOS, SCENARIOS, SERVER_CORES
from benchmarks.scenarios.common import SYSTEMS, Context
from benchmarks.stats import Row

log = logging.getLogger("benchmarks")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run scenarios and report")
    r.add_argument("scenarios", nargs="*", metavar="scenario",
                   help=f"any of {', '.join(SCENARIOS)} "
                   f"(default: {', '.join(DEFAULT_SCENARIOS)})")
    r.add_argument("--scale", type=float, default=1.0,
                   help="multiplies every series count (1.0 = 100k/1M series as in issue 7)")
    r.add_argument("--reps", type=int, default=3, help="repetitions per figure")
    r.add_argument("--protocol", type=int, choices=(1, 2), default=1,
                   help="remote write 1.0 or 2.0")
    r.add_argument("--samples-per-request", type=int, default=2000)
    r.add_argument("--shards", type=int, default=4,
                   help="concurrent ordered request streams (bounds requests in flight)")
    r.add_argument("--scrape-interval", type=float, default=15.0, help="seconds")
    r.add_argument("--churn", type=float, default=0.0,
                   help="fraction of targets replaced (new series) every round")
    r.add_argument("--seed", type=int, default=42)
    r.add_argument("--systems", default=",".join(SYSTEMS),
                   help=f"comma-separated subset of {','.join(SYSTEMS)} "
                   "(prometheus = Debian's 2.42)")
    r.add_argument("--server-cores", default=None,
                   help="taskset list for the servers (default 0; hour: "
                   f"{SERVER_CORES['hour']})")
    r.add_argument("--loadgen-cores", default="1", help="cores of the load generator")
    r.add_argument("--tidewell-arg", action="append", default=[],
                   help="extra flag for Tidewell (repeatable), e.g. --tidewell-arg=-log.level=warn")
    r.add_argument("--max-push-seconds", type=float, default=300.0,
                   help="a data-loading push taking longer makes its figure n/a")
    r.add_argument("--rep-seconds", type=float, default=30.0,
                   help="cap of one write-throughput repetition")
    r.add_argument("--workdir", type=Path, default=None,
                   help="data directories go here (default: a temporary dir, removed after)")
    r.add_argument("--output", type=Path, default=None, help="report file (default BENCHMARKS.md)")
    r.add_argument("--no-append", action="store_true", help="print only")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    log_progress()
    pin_self({int(c) for c in args.loadgen_cores.split(",")})
    names = args.scenarios or list(DEFAULT_SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}",
              file=sys.stderr)
        return 2
    problem = ensure_peers(args.systems.split(","))
    if problem:
        log.error("peers not installed, their columns will say so: %s", problem)
    tmp = None
    workdir = args.workdir
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="tidewell-bench-")
        workdir = Path(tmp)
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        workdir=workdir, scale=args.scale, reps=args.reps, protocol=args.protocol,
        shards=args.shards, samples_per_request=args.samples_per_request,
        scrape_interval_s=args.scrape_interval, churn=args.churn, seed=args.seed,
        server_cores=args.server_cores or "0", systems=args.systems.split(","),
        tidewell_args=list(args.tidewell_arg), max_push_s=args.max_push_seconds,
        rep_seconds=args.rep_seconds,
    )
    rows: list[Row] = []
    t0 = time.perf_counter()
    try:
        for name in names:
            log.info("scenario %s", name)
            cores = args.server_cores or SERVER_CORES.get(name, "0")
            rows += SCENARIOS[name](dataclasses.replace(ctx, server_cores=cores))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    took = time.perf_counter() - t0
    print()
    print(render_table(rows))
    settings = {
        "scale": f"{args.scale:g}", "reps": str(args.reps), "protocol": f"RW{args.protocol}",
        "samples/request": str(args.samples_per_request), "streams": str(args.shards),
        "scrape interval": f"{args.scrape_interval:g}s", "churn": f"{args.churn:g}",
        "seed": str(args.seed),
        "server cores": args.server_cores or "; ".join(
            sorted({f"{SERVER_CORES.get(n, '0')}" + (f" ({n})" if n in SERVER_CORES else "")
                    for n in names})),
        "load generator cores": args.loadgen_cores,
        "prometheus": PrometheusServer.version(), "prometheus3": Prometheus3Server.version(),
        "victoriametrics": VictoriaMetricsServer.version(), "duration": f"{took:.0f}s",
    }
    if not args.no_append:
        cmd = "python -m benchmarks " + shlex.join(argv)
        path = append_report(render_report(rows, command=cmd, settings=settings), args.output)
        print(f"appended to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
