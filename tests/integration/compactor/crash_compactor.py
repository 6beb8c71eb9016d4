"""Runs one compaction of a filesystem bucket in its own process, for SIGKILL tests.

``python -m tests.integration.compactor.crash_compactor BUCKET WORKDIR CLOCK`` prints
``ready`` once imported, then compacts every tenant with the clock at ``CLOCK``.
"""

from __future__ import annotations

import sys

from tidewell.compactor.compactor import Compactor
from tidewell.compactor.config import CompactorConfig
from tidewell.objstore import FilesystemBucket


def main() -> None:
    bucket_dir, work, clock = sys.argv[1], sys.argv[2], float(sys.argv[3])
    comp = Compactor(FilesystemBucket(bucket_dir), CompactorConfig(), work, clock=lambda: clock)
    print("ready", flush=True)
    ok = comp.compact()
    print("done" if ok else "failed", flush=True)


if __name__ == "__main__":
    main()
