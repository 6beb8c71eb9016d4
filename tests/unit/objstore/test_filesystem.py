"""What the filesystem backend promises beyond the contract: atomic, durable puts
whose temporary files never show, even when the writer is killed mid-write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tidewell.objstore import BucketError, FilesystemBucket

SIZE = 8 * 1024 * 1024


@pytest.mark.serial  # readers race a writer for a fixed time: alone on its core
def test_readers_never_see_a_partial_object(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path, fsync=False)
    a, b = b"a" * SIZE, b"b" * (SIZE // 2)
    bucket.put("t/blk/chunks/000001", a)
    stop = threading.Event()
    seen: set[int] = set()
    bad: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            data = bucket.get("t/blk/chunks/000001")
            if data not in (a, b):
                bad.append(f"partial object of {len(data)} bytes")
            seen.add(len(data))
            names = [o.key for o in bucket.iter_prefix("t")]
            if names != ["t/blk/chunks/000001"]:
                bad.append(f"listing showed {names}")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 1.0
    i = 0
    while time.monotonic() < deadline:
        bucket.put("t/blk/chunks/000001", b if i % 2 == 0 else a)
        i += 1
    stop.set()
    for t in threads:
        t.join(10)
    assert not bad, bad[:3]
    assert i > 2


_WRITER = """
import sys
from tidewell.objstore import FilesystemBucket
b = FilesystemBucket(sys.argv[1])
print("ready", flush=True)
i = 1
while True:
    b.put("k", bytes([i % 256]) * (16 * 1024 * 1024))
    i += 1
"""


def test_killed_writer_leaves_old_or_new_object_and_no_visible_temp(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path)
    bucket.put("k", b"\x00" * (16 * 1024 * 1024))
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.4)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    data = bucket.get("k")
    assert len(data) == 16 * 1024 * 1024
    assert data.count(data[:1]) == len(data)  # one whole write, not a mix
    assert [o.key for o in bucket.iter_prefix("")] == ["k"]
    assert [o.key for o in bucket.list_dir("").objects] == ["k"]


def test_leftover_temp_files_are_invisible(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path)
    bucket.put("t/x", b"1")
    (tmp_path / "t" / (".x.tmp-" + "0" * 32)).write_bytes(b"partial")
    assert [o.key for o in bucket.iter_prefix("t")] == ["t/x"]
    assert [o.key for o in bucket.list_dir("t").objects] == ["t/x"]


def test_keys_are_plain_paths_for_other_tools(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path)
    bucket.put("tenant/01HXYZ/chunks/000001", b"chunk")
    assert (tmp_path / "tenant" / "01HXYZ" / "chunks" / "000001").read_bytes() == b"chunk"


def test_put_through_a_file_is_an_error_not_not_found(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path)
    bucket.put("a", b"file")
    try:
        bucket.put("a/b", b"x")
    except BucketError as exc:
        assert type(exc) is BucketError
        assert exc.operation == "upload"
    else:
        raise AssertionError("put below a file must fail")
