"""A process SIGKILLed in the middle of a filesystem-bucket upload leaves a hidden
temporary file; listings hide it while it may still be written, then sweep it, and the
compactor's cleaner removes what is left of the block: nothing survives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tidewell.compactor.cleaner import TenantLimits, clean_tenant
from tidewell.objstore import FilesystemBucket

pytestmark = pytest.mark.timeout(60)

TENANT = "t1"
BLOCK = "01JBQ8Z3M7XG5W0N7C2K4Y9D1F"
UPLOADER = """
import sys
from tidewell.objstore import FilesystemBucket
FilesystemBucket(sys.argv[1]).upload_file(sys.argv[2], sys.argv[3])
"""


def all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_sigkill_mid_upload_leaves_nothing_after_cleanup(tmp_path: Path) -> None:
    root = tmp_path / "bucket"
    bucket = FilesystemBucket(root, stale_tmp_after=1.0)
    bucket.put(f"{TENANT}/{BLOCK}/chunks/000001", b"x" * 1000)  # landed before the kill
    fifo = tmp_path / "index-source"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", UPLOADER, str(root),
                             f"{TENANT}/{BLOCK}/index", str(fifo)], env=env)
    try:
        with open(fifo, "wb") as src:
            src.write(b"i" * (4 << 20))  # more than one copy buffer: lands in the temp file
            src.flush()
            block_dir = root / TENANT / BLOCK
            deadline = time.monotonic() + 20
            while not [p for p in block_dir.iterdir() if p.name.startswith(".index.tmp-")
                       and p.stat().st_size > 0]:
                assert time.monotonic() < deadline, "the uploader never wrote its temp file"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
    except BrokenPipeError:
        pass
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    (tmp,) = [f for f in all_files(root) if ".tmp-" in f]
    # While it may still be written (younger than stale_tmp_after), listings hide it.
    assert [o.key for o in bucket.iter_prefix(TENANT)] == [f"{TENANT}/{BLOCK}/chunks/000001"]
    assert (root / tmp).exists()

    time.sleep(1.2)  # the writer is gone for good
    limits = TenantLimits(partial_block_deletion_delay=0.5)
    now = time.time() + 1
    first = clean_tenant(bucket, TENANT, now=now, deletion_delay=0, limits=limits)
    assert not (root / tmp).exists()  # swept by the cleaner's listing
    assert first.marked == [BLOCK]  # what did land is a partial block: marked ...
    second = clean_tenant(bucket, TENANT, now=now + 1, deletion_delay=0, limits=limits)
    assert second.deleted == [BLOCK]  # ... and deleted
    assert all_files(root) == [f"{TENANT}/bucket-index.json.gz"]
    assert not (root / TENANT / BLOCK).exists()
