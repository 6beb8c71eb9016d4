"""Partition tokens as dskit's spread-minimizing token generator makes them.

Partition ``i`` gets 512 tokens that split the largest token ranges left by
partitions ``0..i-1``, so ownership stays even as partitions are added. The
result for ``i`` depends on all earlier partitions, so tokens of every id up to
the largest asked for are computed once and cached.
"""

from __future__ import annotations

import heapq
import threading

__all__ = ["TOKENS_PER_PARTITION", "partition_tokens"]

TOKENS_PER_PARTITION = 512
_TOTAL = 1 << 32
_MAX_ZONES = 8
_MAX_TOKEN = ((_TOTAL // _MAX_ZONES) - 1) * _MAX_ZONES

_lock = threading.Lock()
_cache: dict[int, list[int]] = {}


def _distance(frm: int, to: int) -> int:
    return to - frm if frm < to else (1 << 32) - frm + to


def _first_tokens() -> list[int]:
    step = (_TOTAL // TOKENS_PER_PARTITION // _MAX_ZONES) * _MAX_ZONES
    return [i * step for i in range(TOKENS_PER_PARTITION)]


def _new_token(prev: int, tok: int, want: int) -> int:
    if want < _MAX_ZONES or want % _MAX_ZONES:
        raise ValueError("token ownership must be a positive multiple of the zone count")
    if _distance(prev, tok) <= want:
        raise ValueError("distance between tokens is not big enough")
    offset = _MAX_TOKEN - prev
    if offset < want:
        return want - offset
    return prev + want


class _Queue:
    """Max-heap by (ownership, key) with dskit's tie-break: larger key first."""

    def __init__(self) -> None:
        self.h: list[list] = []

    def push(self, ownership: float, key: int, item: list) -> None:
        heapq.heappush(self.h, [-ownership, -key, item])

    def peek(self) -> list | None:
        return self.h[0] if self.h else None

    def pop(self) -> list:
        return heapq.heappop(self.h)

    def fix_top(self, ownership: float) -> None:
        top = heapq.heappop(self.h)
        top[0] = -ownership
        heapq.heappush(self.h, top)


def _generate(upto: int) -> dict[int, list[int]]:
    first = _first_tokens()
    result = {0: sorted(first)}
    if upto == 0:
        return result
    token_queues: list[_Queue] = []
    q0 = _Queue()
    prev = len(first) - 1
    first_ownership = 0.0
    for k, tok in enumerate(first):
        own = float(_distance(first[prev], tok))
        first_ownership += own
        q0.push(own, tok, [tok, first[prev]])  # item = [token, prev_token]
        prev = k
    token_queues.append(q0)
    inst = _Queue()
    inst.push(first_ownership, 0, [0])
    for i in range(1, upto + 1):
        optimal_instance = float(_TOTAL) / float(i + 1)
        current = 0.0
        added = 0
        ignored: list[list] = []
        tokens: list[int] = []
        cur_q = _Queue()
        while added < TOKENS_PER_PARTITION:
            remaining = TOKENS_PER_PARTITION - added
            want = (int(optimal_instance - current) & 0xFFFFFFFF) // remaining
            want = (want // _MAX_ZONES) * _MAX_ZONES
            top_inst = inst.peek()
            if top_inst is None or -top_inst[0] <= float(want):
                raise RuntimeError(f"cannot add token {added + 1} for partition {i}")
            tq = token_queues[top_inst[2][0]]
            top_tok = tq.peek()
            assert top_tok is not None
            if -top_tok[0] <= float(want):
                ignored.append(inst.pop())
                continue
            tok, tok_prev = top_tok[2]
            new = _new_token(tok_prev, tok, want)
            tokens.append(new)
            cur_q.push(float(_distance(tok_prev, new)), new, [new, tok_prev])
            old_own = -top_tok[0]
            new_own = float(_distance(new, tok))
            current += old_own - new_own
            top_tok[2][1] = new
            tq.fix_top(new_own)
            inst.fix_top(-top_inst[0] - old_own + new_own)
            added += 1
        result[i] = sorted(tokens)
        if i == upto:
            break
        for item in ignored:
            heapq.heappush(inst.h, item)
        token_queues.append(cur_q)
        inst.push(current, i, [i])
    return result


def partition_tokens(partition_id: int) -> list[int]:
    """The sorted 512 tokens of ``partition_id`` (deterministic, unique across partitions)."""
    if partition_id < 0:
        raise ValueError("partition id must be >= 0")
    with _lock:
        got = _cache.get(partition_id)
        if got is None:
            upto = max(partition_id, max(_cache, default=-1))
            _cache.update(_generate(upto))
            got = _cache[partition_id]
        return list(got)
