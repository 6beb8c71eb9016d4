"""Which blocks of a tenant to compact together, by Mimir's planning rules.

Blocks are grouped by their external labels, ignoring the compactor's shard
label and the deprecated ``__ingester_id__`` / ``__org_id__``. For each block
range, smallest first, a group's blocks are put into aligned windows
``[k*range, (k+1)*range)``; a block crossing a window is left for a larger
range. A window with at least two blocks of one shard is a merge job. Above
the smallest range, a window is compacted only once it is full or no longer
the newest (Prometheus's rule, so a 12h block is not rewritten every 2h). A
job overlapping an already planned one of the same group and shard waits for
the next plan. Jobs holding a first-level block uploaded less than
``first-level-compaction-wait-period`` ago wait too, so the other zones'
copies of that block are merged in the same job. Jobs run smallest range,
oldest first.

Before planning, the deduplicate filter drops blocks whose sources are all
contained in another block (the leftovers of a compaction whose marking was
interrupted); the caller marks those for deletion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tidewell.objstore.blockdedup import find_successors

__all__ = [
    "COMPACTOR_SHARD_ID_LABEL",
    "IGNORED_GROUP_LABELS",
    "Job",
    "PlanBlock",
    "deduplicate",
    "group_key",
    "plan",
]

COMPACTOR_SHARD_ID_LABEL = "__compactor_shard_id__"
IGNORED_GROUP_LABELS = frozenset({COMPACTOR_SHARD_ID_LABEL, "__ingester_id__", "__org_id__"})


@dataclass(frozen=True, slots=True)
class PlanBlock:
    """What planning needs of a block's ``meta.json`` (times in ms, ``max_time`` exclusive)."""

    block_id: str
    min_time: int
    max_time: int
    level: int = 1
    uploaded_at: float = 0.0  # unix seconds
    labels: tuple[tuple[str, str], ...] = ()
    sources: frozenset[str] = field(default_factory=frozenset)

    @property
    def shard_id(self) -> str:
        return dict(self.labels).get(COMPACTOR_SHARD_ID_LABEL, "")


@dataclass(frozen=True, slots=True)
class Job:
    """Blocks of one group, range window and shard to merge into one block."""

    group: str
    range_ms: int
    window_start: int
    shard_id: str
    blocks: tuple[PlanBlock, ...]
    stage: str = "merge"  # or "split": write ``split_shards`` blocks, one per shard
    split_shards: int = 0

    @property
    def min_time(self) -> int:
        return min(b.min_time for b in self.blocks)

    @property
    def max_time(self) -> int:
        return max(b.max_time for b in self.blocks)

    @property
    def labels(self) -> dict[str, str]:
        """External labels of the output block (the group's, the shard's if any)."""
        return {k: v for k, v in self.blocks[0].labels
                if k not in IGNORED_GROUP_LABELS or k == COMPACTOR_SHARD_ID_LABEL}

    @property
    def key(self) -> str:
        """Stable ID of the job, for ring ownership and work directories."""
        text = (f"{self.stage}/{self.group}/{self.range_ms}/{self.window_start}/"
                f"{self.shard_id}/{self.blocks[0].block_id}")
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def overlaps(self, other: Job) -> bool:
        return (self.group == other.group and self.shard_id == other.shard_id
                and self.min_time < other.max_time and other.min_time < self.max_time)


def group_key(labels: Iterable[tuple[str, str]]) -> str:
    """Thanos's ``resolution@labels`` key, without the labels compaction ignores."""
    kept = sorted((k, v) for k, v in labels if k not in IGNORED_GROUP_LABELS)
    return "0@{" + ",".join(f'{k}="{v}"' for k, v in kept) + "}"


def deduplicate(blocks: Sequence[PlanBlock]) -> tuple[list[PlanBlock], list[PlanBlock]]:
    """(kept, duplicates): a block is a duplicate when another block of the same shard
    holds all its sources (``objstore.blockdedup``, shared with the read path).

    Sources covered only by the split stage's per-shard blocks are split again
    instead (a crash between two shard uploads would otherwise lose the rest), and
    the per-shard merges drop the repeated samples.
    """
    dups = find_successors(blocks)
    kept = sorted((b for b in blocks if b.block_id not in dups),
                  key=lambda b: (b.min_time, b.block_id))
    return kept, [b for b in blocks if b.block_id in dups]


def _range_start(t: int, r: int) -> int:
    return t // r * r  # floor, also for negative times


def _windows(blocks: Sequence[PlanBlock], r: int) -> list[tuple[int, list[PlanBlock]]]:
    """Blocks (sorted by min time) in aligned windows of ``r``; crossing blocks left out."""
    out: list[tuple[int, list[PlanBlock]]] = []
    i = 0
    while i < len(blocks):
        start = _range_start(blocks[i].min_time, r)
        end = start + r
        if blocks[i].max_time > end:
            i += 1
            continue
        group = []
        while i < len(blocks) and blocks[i].min_time < end:
            if blocks[i].max_time <= end:
                group.append(blocks[i])
            i += 1
        if group:
            out.append((start, group))
    return out


def _split_jobs(key: str, r: int, start: int, window: Sequence[PlanBlock], shards: int,
                groups: int) -> list[Job]:
    """Split jobs for a window's blocks without a shard label, by block ID hash group."""
    by_group: dict[int, list[PlanBlock]] = {}
    for b in window:
        if not b.shard_id:
            g = int(hashlib.sha256(b.block_id.encode()).hexdigest()[:8], 16) % groups
            by_group.setdefault(g, []).append(b)
    return [Job(key, r, start, "", tuple(bs), "split", shards)
            for _, bs in sorted(by_group.items())]


def plan(
    blocks: Sequence[PlanBlock],
    ranges_ms: Sequence[int],
    *,
    now: float,
    first_level_wait_s: float,
    split_shards: int = 0,
    split_groups: int = 1,
) -> list[Job]:
    """Jobs for a tenant's live, deduplicated blocks, in the order to run them.

    With ``split_shards`` > 0 (split-and-merge), blocks of the smallest range
    without a shard label are first split into that many blocks (one split job
    per ``split_groups`` hash group of block IDs); the shards' blocks then merge
    per shard ID.
    """
    groups: dict[str, list[PlanBlock]] = {}
    for b in sorted(blocks, key=lambda b: (b.min_time, b.block_id)):
        groups.setdefault(group_key(b.labels), []).append(b)
    jobs: list[Job] = []
    for key, group in groups.items():
        newest_min = max(b.min_time for b in group)
        for i, r in enumerate(ranges_ms):
            for start, window in _windows(group, r):
                if i == 0 and split_shards > 0 and any(not b.shard_id for b in window):
                    for job in _split_jobs(key, r, start, window, split_shards,
                                           max(1, split_groups)):
                        # Split groups of one window hold disjoint blocks: they run side by side.
                        if not any(job.overlaps(j) for j in jobs if j.stage != "split"):
                            jobs.append(job)
                    continue
                by_shard: dict[str, list[PlanBlock]] = {}
                for b in window:
                    by_shard.setdefault(b.shard_id, []).append(b)
                for shard, sb in sorted(by_shard.items()):
                    if len(sb) < 2:
                        continue
                    mint = min(b.min_time for b in sb)
                    maxt = max(b.max_time for b in sb)
                    if i > 0 and not (maxt - mint == r or maxt <= newest_min):
                        continue
                    job = Job(key, r, start, shard, tuple(sb))
                    if any(job.overlaps(j) for j in jobs):
                        continue
                    jobs.append(job)
    fresh = now - first_level_wait_s
    jobs = [j for j in jobs
            if not any(b.level == 1 and b.uploaded_at > fresh for b in j.blocks)]
    jobs.sort(key=lambda j: (j.range_ms, j.min_time, j.group, j.shard_id))
    return jobs
