"""ExpiringCache: entries expire, and many keys never grow it past its cap."""

from __future__ import annotations

from tidewell.util.expiring import ExpiringCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_ttl():
    clock = Clock()
    c: ExpiringCache[str, int | None] = ExpiringCache(10.0, 100, clock)
    c.put("a", None)  # None is a value, not a miss
    assert c.get("a", -1) is None
    clock.now = 9.9
    assert c.get("a", -1) is None
    clock.now = 10.0
    assert c.get("a", -1) == -1


def test_many_keys_stay_within_the_cap_oldest_first():
    clock = Clock()
    c: ExpiringCache[str, int] = ExpiringCache(1000.0, 50, clock)
    for i in range(10_000):
        clock.now = i * 0.001
        c.put(f"tenant-{i}", i)
        assert len(c) <= 50
    assert c.get("tenant-9999", -1) == 9999
    assert c.get("tenant-9950", -1) == 9950
    assert c.get("tenant-9949", -1) == -1


def test_expired_entries_are_dropped_when_storing():
    clock = Clock()
    c: ExpiringCache[str, int] = ExpiringCache(1.0, 1000, clock)
    for i in range(100):
        c.put(f"t{i}", i)
    clock.now = 5.0
    c.put("late", 1)
    assert len(c) == 1


def test_storing_again_renews_an_entry():
    clock = Clock()
    c: ExpiringCache[str, int] = ExpiringCache(10.0, 2, clock)
    c.put("a", 1)
    clock.now = 5
    c.put("b", 2)
    c.put("a", 3)  # now the newest
    c.put("c", 4)  # evicts b, the oldest
    assert (c.get("a", 0), c.get("b", 0), c.get("c", 0)) == (3, 0, 4)
