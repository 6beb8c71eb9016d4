"""The operator CLI, ``tidewell tool …``."""

from __future__ import annotations

import sys

USAGE = """usage: tidewell tool <command> [arguments]

commands:
  backfill        validate existing Prometheus TSDB blocks and upload them to a tenant
  local-cluster   run a whole cluster (broker, etcd, S3, memcached, components) on loopback
  verify          check a running deployment: produce acks, consumer groups, blocks in the bucket
"""


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "-help", "help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    command, rest = argv[0], argv[1:]
    if command == "backfill":
        from tidewell.tool.backfill import main as backfill

        return backfill(rest)
    if command == "local-cluster":
        from tidewell.tool.localcluster.supervisor import main as local_cluster

        return local_cluster(rest)
    if command == "verify":
        from tidewell.tool.verify.main import main as verify

        return verify(rest)
    print(f"unknown tool command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2
