"""Memcached key placement: dskit's jump hash over naturally sorted servers."""

from __future__ import annotations

import pytest

from tidewell.frontend.memcached import MemcachedCache, jump_hash, natural_order


@pytest.mark.parametrize(("key", "buckets", "expected"), [
    # Published vectors of Lamping & Veach's algorithm (go-jump, the paper's C++).
    (1, 1, 0), (42, 57, 43), (0xDEAD10CC, 1, 0), (0xDEAD10CC, 666, 361), (256, 1024, 520),
    (1, 128, 55), (129, 128, 120), (128, 100_000_000, 38_172_097),
    ((1 << 64) - 1, 128, 92), (128, 2_147_483_648, 1_644_467_860),
])
def test_jump_hash_vectors(key, buckets, expected):
    assert jump_hash(key, buckets) == expected


def test_growing_by_one_bucket_moves_keys_only_to_the_new_one():
    keys = [k * 0x9E3779B97F4A7C15 % (1 << 64) for k in range(20_000)]
    moved = 0
    for k in keys:
        before, after = jump_hash(k, 3), jump_hash(k, 4)
        if before != after:
            assert after == 3
            moved += 1
    assert 0.22 < moved / len(keys) < 0.28  # 1/4 of the keys


def test_natural_order_and_placement_ignore_the_listing_order():
    assert natural_order(["mc-10:11211", "mc-2:11211", "mc-1:11211"]) == [
        "mc-1:11211", "mc-2:11211", "mc-10:11211"]
    a = MemcachedCache(["h:3", "h:1", "h:20"])
    b = MemcachedCache(["h:20", "h:3", "h:1"])
    keys = [f"fe:{i}" for i in range(200)]
    assert [a.server_for(k) for k in keys] == [b.server_for(k) for k in keys]
    assert {a.server_for(k) for k in keys} == {"h:1", "h:3", "h:20"}


def test_one_server_takes_every_key():
    c = MemcachedCache(["h:1"])
    assert {c.server_for(f"k{i}") for i in range(50)} == {"h:1"}
