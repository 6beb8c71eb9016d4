"""The ``tidewell tool verify`` command line: find the deployment, run the checks, report."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from tidewell.tool.verify.blocks import check_blocks
from tidewell.tool.verify.deployment import (
    Deployment,
    DeploymentError,
    from_cluster,
    from_flags,
)
from tidewell.tool.verify.distributors import check_distributors
from tidewell.tool.verify.partitions import check_partitions
from tidewell.tool.verify.report import CheckResult, Status, exit_code, render_json, render_table
from tidewell.util.config_fields import parse_duration

__all__ = ["main", "run_checks"]

CHECKS = ("produce", "consume", "blocks")

USAGE = """tidewell tool verify [--cluster DIR | -config.file=FILE [-flag=value ...]] [options]

The three checks of Mimir's ingest storage guide, against a running deployment:
  produce  each distributor produced records and the log acknowledged them (its /metrics,
           scraped twice --window apart)
  consume  every ACTIVE partition of the partition ring has an ingester per zone whose
           consumer group's committed offset, read from the broker, keeps up with the
           partition's end offset
  blocks   each tenant's newest block in the bucket ends within the block range plus
           --block-grace, and the tenant's bucket index lists every block
Tidewell flags (single dash, e.g. -config.file, -ingest-storage.kafka.address) say where
the broker, the rings and the bucket are, exactly as for the components themselves.
Exit code 1 when a check fails."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tidewell tool verify", usage=USAGE, allow_abbrev=False)
    p.add_argument("--cluster", metavar="DIR",
                   help="a 'tidewell tool local-cluster' directory (or its cluster.json)")
    p.add_argument("--distributor", action="append", default=[], metavar="URL",
                   help="a distributor's base URL; repeatable, comma-separated, or "
                        "dns+HOST:PORT for every address HOST resolves to")
    p.add_argument("--window", default="15s",
                   help="time between the two looks at counters and offsets; at least twice "
                        "-ingest-storage.kafka.consumer-group-offset-commit-interval")
    p.add_argument("--max-lag", type=int, default=1_000_000,
                   help="records a consumer group may be behind the partition end")
    p.add_argument("--block-grace", default="2h",
                   help="how much older than one block range the newest block may end")
    p.add_argument("--index-grace", default="15m",
                   help="how long a new block may be missing from the bucket index "
                        "(Mimir's compactor refreshes it every -compactor.cleanup-interval)")
    p.add_argument("--checks", default=",".join(CHECKS),
                   help=f"which checks to run, comma-separated (default {','.join(CHECKS)})")
    p.add_argument("--output", choices=("table", "json"), default="table")
    return p


async def run_checks(deployment: Deployment, checks: set[str], window_s: float, max_lag: int,
                     block_grace_s: float, index_grace_s: float) -> list[CheckResult]:
    """Run the chosen checks concurrently (the two windowed ones share the wait)."""
    config = deployment.config
    jobs = []
    if "produce" in checks:
        jobs.append(check_distributors(deployment.distributors, window_s))
    reader = None
    if "consume" in checks:
        if config.ingest_storage.backend != "kafka":
            # A single process on its embedded log: nothing outside it can read its
            # partitions, so this check cannot say anything (it is not a failure).
            jobs.append(_fixed([CheckResult(
                "consume", "ingest log", Status.WARN,
                "no -ingest-storage.kafka.address: the embedded log lives inside one process; "
                "verify checks consumer groups on a Kafka-compatible broker")]))
        else:
            from tidewell.ingest.kafka import KafkaReader

            reader = KafkaReader(config.ingest_storage.kafka)
            jobs.append(check_partitions(config, reader, window_s, max_lag))
    if "blocks" in checks:
        jobs.append(asyncio.to_thread(_blocks, deployment, block_grace_s, index_grace_s))
    try:
        groups = await asyncio.gather(*jobs)
    finally:
        if reader is not None:
            await reader.close()
    return [r for group in groups for r in group]


async def _fixed(results: list[CheckResult]) -> list[CheckResult]:
    return results


def _blocks(deployment: Deployment, grace_s: float, index_grace_s: float) -> list[CheckResult]:
    from tidewell.objstore import new_bucket

    config = deployment.config
    try:
        bucket = new_bucket(config.blocks_storage, config.data_dir / "bucket")
    except Exception as exc:  # a bad bucket config is a failed check, with its reason
        return [CheckResult("blocks", "bucket", Status.FAIL, f"cannot open the bucket: {exc}")]
    with bucket:
        return check_blocks(bucket, config.blocks_storage.tsdb.block_ranges_period, grace_s,
                            index_grace_s)


def main(argv: list[str]) -> int:
    argv = ["--help" if a == "-help" else a for a in argv]  # Tidewell's own spelling
    flags = [a for a in argv if a.startswith("-") and not a.startswith("--") and a != "-h"]
    args = _parser().parse_args([a for a in argv if a not in flags])
    try:
        window_s = parse_duration(args.window)
        block_grace_s = parse_duration(args.block_grace)
        index_grace_s = parse_duration(args.index_grace)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    checks = {c.strip() for c in args.checks.split(",") if c.strip()}
    if not checks or checks - set(CHECKS):
        print(f"error: --checks takes some of {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    # The libraries' own warnings (a partial block being uploaded) would interleave the table.
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    try:
        if args.cluster:
            deployment = from_cluster(args.cluster, flags, args.distributor)
        elif flags:
            deployment = from_flags(flags, args.distributor)
        else:
            print("error: say which deployment: --cluster DIR or -config.file=FILE\n\n" + USAGE,
                  file=sys.stderr)
            return 2
    except DeploymentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    commit_every = deployment.config.ingest_storage.kafka.consumer_group_offset_commit_interval
    if "consume" in checks and window_s < 2 * commit_every:
        print(f"error: --window {args.window} is shorter than twice "
              f"-ingest-storage.kafka.consumer-group-offset-commit-interval ({commit_every:g}s): "
              "a healthy ingester could look stuck", file=sys.stderr)
        return 2
    results = asyncio.run(run_checks(deployment, checks, window_s, args.max_lag,
                                     block_grace_s, index_grace_s))
    print(render_json(results) if args.output == "json" else render_table(results))
    return exit_code(results)
