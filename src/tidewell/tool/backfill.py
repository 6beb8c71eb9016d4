"""``tidewell tool backfill --tenant T DIR…``: upload existing Prometheus blocks.

Every block is checked before anything is uploaded: ``meta.json`` parses, the
index and every chunk pass their CRC checks and decode, samples lie inside the
block's time range, and no block overlaps another given block or one already in
the tenant's bucket. If any block fails, nothing is uploaded and each problem
is printed. Valid blocks are then uploaded chunks and index first, ``meta.json``
last (a block is visible only once complete), and the tenant's bucket index is
updated. ``DIR`` is a block directory or a directory of blocks (a Prometheus
data directory, or what ``promtool tsdb create-blocks-from`` wrote).

Storage is configured with the same flags and YAML as the server:
``-config.file``, ``-common.storage.path`` and ``-blocks-storage.*``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import numpy as np

from tidewell.model.errors import TidewellError
from tidewell.objstore import Bucket, new_bucket, tenant_bucket
from tidewell.objstore.bucketindex import build_bucket_index, is_block_id, update_bucket_index
from tidewell.tool.progress import Progress, human_bytes
from tidewell.tsdb.block import BlockMeta, BlockReader, CorruptBlockError, read_meta
from tidewell.tsdb.chunkenc import ENCODING_XOR, decode_xor_many
from tidewell.tsdb.chunkenc.histogram import (
    ENCODING_FLOAT_HISTOGRAM,
    ENCODING_HISTOGRAM,
    decode_histogram_chunk,
)

__all__ = ["BackfillError", "BlockCheck", "main", "validate_block"]

USAGE = "tidewell tool backfill --tenant TENANT [-config.file=F] [-blocks-storage.*=V …] DIR…"


class BackfillError(TidewellError):
    """A block cannot be backfilled; the message says which and why."""


@dataclass
class BlockCheck:
    """A block that passed validation: its directory, meta and sizes."""

    path: Path
    meta: BlockMeta
    files: list[Path] = field(default_factory=list)  # upload order, meta.json last
    size: int = 0

    @property
    def ulid(self) -> str:
        return self.meta.ulid


def _ts(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _span(min_time: int, max_time: int) -> str:
    return f"[{_ts(min_time)}, {_ts(max_time)})"


def validate_block(path: Path) -> BlockCheck:
    """Check a block directory thoroughly; raises ``BackfillError`` naming the problem."""
    if not (path / "meta.json").is_file():
        raise BackfillError(f"{path}: not a block directory (no meta.json)")
    try:
        meta = read_meta(path)
    except CorruptBlockError as exc:
        raise BackfillError(f"{path}: {exc}") from None
    if not is_block_id(meta.ulid):
        raise BackfillError(f"{path}: meta.json has an invalid ULID {meta.ulid!r}")
    if meta.min_time >= meta.max_time:
        raise BackfillError(
            f"{path}: meta.json minTime {meta.min_time} is not before maxTime {meta.max_time}"
        )
    for name in ("index", "chunks"):
        if not (path / name).exists():
            raise BackfillError(f"{path}: {name} is missing")
    try:
        samples = _check_data(path, meta)
    except CorruptBlockError as exc:
        raise BackfillError(f"{path}: corrupt block: {exc}") from None
    if meta.num_samples and samples >= 0 and samples != meta.num_samples:
        raise BackfillError(
            f"{path}: holds {samples} samples but meta.json says {meta.num_samples}"
        )
    chunk_files = sorted(p for p in (path / "chunks").iterdir() if p.is_file())
    files = [*chunk_files, path / "index", path / "meta.json"]
    return BlockCheck(path, meta, files, sum(p.stat().st_size for p in files))


def _check_data(path: Path, meta: BlockMeta) -> int:
    """CRC-check every index section and chunk, decode XOR and histogram chunks.

    Returns the sample count, or -1 when chunks of other encodings (uploaded as
    they are, CRC-checked) could not be counted.
    """
    with BlockReader(path) as block:
        ir = block.index
        ir.symbols()
        for name in ir.label_names():
            for value in ir.label_values(name):
                ir.postings(name, value)
        by_seg: dict[int, tuple[list[int], list[int]]] = {}
        other_encodings = 0
        hist_samples = 0
        for ref in ir.all_postings().tolist():
            s = ir.series(ref)
            if s.mints.shape[0] and (
                int(s.mints.min()) < meta.min_time or int(s.maxts.max()) >= meta.max_time
            ):
                raise CorruptBlockError(
                    f"series {s.labels} has chunks outside the block's time range "
                    f"{_span(meta.min_time, meta.max_time)}",
                    str(path / "index"),
                )
            for cref in s.refs.tolist():
                seg, start, end, enc = block.chunks.locate(cref)  # CRC-checked
                if enc in (ENCODING_HISTOGRAM, ENCODING_FLOAT_HISTOGRAM):
                    hist_samples += _check_histogram_chunk(block, seg, start, end, enc, meta)
                    continue
                if enc != ENCODING_XOR:
                    other_encodings += 1
                    continue
                group = by_seg.setdefault(seg, ([], []))
                group[0].append(start)
                group[1].append(end)
        total = hist_samples
        for seg, (starts, ends) in by_seg.items():
            segment = np.frombuffer(block.chunks.segment_buffer(seg), dtype=np.uint8)
            ts, _, bad = decode_xor_many(
                segment, np.array(starts, np.int64), np.array(ends, np.int64)
            )
            if bad >= 0:
                raise CorruptBlockError(
                    "XOR chunk does not decode", str(block.chunks.segments[seg]), starts[bad]
                )
            if ts.shape[0] and (int(ts.min()) < meta.min_time or int(ts.max()) >= meta.max_time):
                raise CorruptBlockError(
                    f"samples outside the block's time range {_span(meta.min_time, meta.max_time)}",
                    str(block.chunks.segments[seg]),
                )
            total += int(ts.shape[0])
        return -1 if other_encodings else total


def _check_histogram_chunk(
    block: BlockReader, seg: int, start: int, end: int, enc: int, meta: BlockMeta
) -> int:
    """Decode one histogram chunk; its sample count. Raises ``CorruptBlockError``."""
    segment = np.frombuffer(block.chunks.segment_buffer(seg), dtype=np.uint8)
    try:
        ts, _ = decode_histogram_chunk(segment[start:end].tobytes(), enc)
    except CorruptBlockError as exc:
        raise CorruptBlockError(f"histogram chunk does not decode: {exc.reason}",
                                str(block.chunks.segments[seg]), start) from None
    if ts.shape[0] and (int(ts.min()) < meta.min_time or int(ts.max()) >= meta.max_time):
        raise CorruptBlockError(
            f"histogram samples outside the block's time range "
            f"{_span(meta.min_time, meta.max_time)}", str(block.chunks.segments[seg]), start)
    return int(ts.shape[0])


def find_blocks(dirs: list[Path]) -> list[Path]:
    """Block directories named by ``dirs``: blocks themselves or directories of blocks."""
    out: list[Path] = []
    for d in dirs:
        if not d.is_dir():
            raise BackfillError(f"{d}: no such directory")
        if (d / "meta.json").exists():
            out.append(d)
            continue
        inner = sorted(p for p in d.iterdir() if p.is_dir() and (p / "meta.json").exists())
        if not inner:
            raise BackfillError(f"{d}: neither a block nor a directory of blocks (no meta.json)")
        out.extend(inner)
    return out


def check_overlaps(checks: list[BlockCheck], bucket: Bucket, tenant: str) -> list[str]:
    """Problems: blocks overlapping each other or the tenant's blocks in the bucket."""
    problems = []
    ordered = sorted(checks, key=lambda c: (c.meta.min_time, c.ulid))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.meta.min_time >= a.meta.max_time:
                break
            problems.append(
                f"{a.path}: block {a.ulid} {_span(a.meta.min_time, a.meta.max_time)} overlaps "
                f"block {b.ulid} {_span(b.meta.min_time, b.meta.max_time)} ({b.path})"
            )
    existing, _ = build_bucket_index(bucket, tenant)
    for c in checks:
        for blk in existing.blocks:
            if blk.block_id == c.ulid:
                problems.append(f"{c.path}: block {c.ulid} already exists in tenant "
                                f"{tenant!r}'s bucket")
            elif blk.min_time < c.meta.max_time and c.meta.min_time < blk.max_time:
                problems.append(
                    f"{c.path}: block {c.ulid} {_span(c.meta.min_time, c.meta.max_time)} "
                    f"overlaps block {blk.block_id} {_span(blk.min_time, blk.max_time)} already "
                    f"in tenant {tenant!r}'s bucket"
                )
    return problems


def _upload_meta(check: BlockCheck) -> bytes:
    """meta.json as uploaded: Mimir's ``thanos`` section filled in (source, files)."""
    meta = check.meta
    meta.source = meta.source or "backfill"
    meta.segment_files = [p.name for p in check.files if p.parent.name == "chunks"]
    meta.files = [
        {"rel_path": p.relative_to(check.path).as_posix(), "size_bytes": p.stat().st_size}
        for p in check.files
        if p.name != "meta.json"
    ] + [{"rel_path": "meta.json"}]
    return json.dumps(meta.to_dict(), indent="\t").encode() + b"\n"


def upload_block(bucket: Bucket, check: BlockCheck, progress: Progress) -> None:
    """Upload one block to the tenant's ``bucket``: chunks, index, then meta.json."""
    for f in check.files:
        key = f"{check.ulid}/{f.relative_to(check.path).as_posix()}"
        if f.name == "meta.json":
            data = _upload_meta(check)
            bucket.put(key, data)
        else:
            bucket.upload_file(key, f)
        progress.advance(f.stat().st_size, key)


def _split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """Our own arguments, and the storage flags handed to ``tidewell.config.load``."""
    from tidewell.config import leaves

    bool_flags = {lf.flag for lf in leaves() if lf.type is bool} | {"config.expand-env"}
    ours: list[str] = []
    storage: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.lstrip("-").split("=", 1)[0]
        if not arg.startswith("-") or arg == "-" or name in ("tenant", "h", "help", "progress",
                                                              "no-progress"):
            ours.append(arg)
            if name == "tenant" and "=" not in arg and i + 1 < len(argv):
                ours.append(argv[i + 1])
                i += 1
        elif arg == "--":
            ours.extend(argv[i:])
            break
        else:
            storage.append(arg)
            if "=" not in arg and name not in bool_flags and i + 1 < len(argv):
                storage.append(argv[i + 1])
                i += 1
        i += 1
    return ours, storage


def main(argv: list[str], out: TextIO | None = None) -> int:
    out = out or sys.stderr
    parser = argparse.ArgumentParser(
        prog="tidewell tool backfill",
        usage=USAGE,
        description="Validate existing Prometheus TSDB blocks and upload them to a tenant's "
        "blocks storage. Storage flags (-config.file, -common.storage.path, "
        "-blocks-storage.*) are those of the tidewell server.",
    )
    parser.add_argument("--tenant", "-tenant", required=True, help="tenant to upload to")
    parser.add_argument("--progress", "-progress", dest="progress", action="store_true",
                        default=None, help="always draw a progress bar")
    parser.add_argument("--no-progress", "-no-progress", dest="progress", action="store_false",
                        help="print one line per uploaded file instead of a bar")
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR",
                        help="block directory, or directory of blocks")
    ours, storage = _split_argv(argv)
    args = parser.parse_intermixed_args(ours)  # DIRs may come between options

    from tidewell.config import load
    from tidewell.util.config_tree import ConfigError

    try:
        config = load(storage).config
    except ConfigError as exc:
        print(f"error: {exc}", file=out)
        return 2
    try:
        blocks = find_blocks(args.dirs)
    except BackfillError as exc:
        print(f"error: {exc}", file=out)
        return 1

    problems: list[str] = []
    checks: list[BlockCheck] = []
    for path in blocks:
        try:
            checks.append(validate_block(path))
            print(f"block {path} is valid", file=out)
        except BackfillError as exc:
            problems.append(str(exc))
    bucket = new_bucket(config.blocks_storage, config.data_dir / "bucket", component="backfill")
    try:
        problems += check_overlaps(checks, bucket, args.tenant)
        if problems:
            for p in problems:
                print(f"error: {p}", file=out)
            print(f"refusing to backfill: {len(problems)} problem(s) found, nothing uploaded",
                  file=out)
            return 1
        tb = tenant_bucket(bucket, args.tenant)
        progress = Progress(sum(c.size for c in checks), out, args.progress)
        for c in checks:
            upload_block(tb, c, progress)
        progress.finish()
        update_bucket_index(bucket, args.tenant)
    finally:
        bucket.close()
    total = sum(c.size for c in checks)
    print(f"backfilled {len(checks)} block(s), {human_bytes(total)}, to tenant "
          f"{args.tenant!r}", file=out)
    return 0
