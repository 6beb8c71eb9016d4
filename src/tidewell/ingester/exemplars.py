"""One tenant's exemplars in a bounded circular buffer, as Prometheus's
``CircularExemplarStorage`` (``tsdb/exemplar.go``).

Exemplars of all series share one ring of ``capacity`` slots, filled in arrival
order; when it is full the oldest arrival is evicted, whatever its series. Each
series threads a doubly-linked list through the ring in timestamp order, so a
query walks only the series that match and, within one, only its exemplars.

Rules, as Prometheus's:

* an exemplar equal to its series' newest one (labels, value, timestamp) is a
  duplicate: accepted, stored once;
* one older than the series' newest by the out-of-order window or more is
  rejected as out of order; so is one at the newest's timestamp with a lower
  value (or equal value and smaller labels: several exemplars per timestamp
  serve the buckets of a native histogram); with a window, older ones go to
  their place in the list, and one at a timestamp already held is a duplicate;
* exemplar labels longer than 128 runes (names plus values) are rejected;
* capacity 0 disables the store: every exemplar is rejected.

Per exemplar Python work is acceptable here: exemplars are at most one per
sample and usually far fewer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

from prometheus_client import Counter, Gauge

from tidewell.distributor.metrics import DISCARDED_EXEMPLARS
from tidewell.model import METRIC_NAME, Exemplar, Labels, Matcher, MatchType

__all__ = ["EXEMPLAR_MAX_LABEL_SET_LENGTH", "ExemplarAddResult", "ExemplarStore",
           "matches_some_set"]

EXEMPLAR_MAX_LABEL_SET_LENGTH = 128
"""Runes of label names and values an exemplar may carry (OpenMetrics, Prometheus)."""

_NONE = -1

APPENDED = Counter(
    "cortex_ingester_tsdb_exemplar_exemplars_appended_total",
    "Total number of TSDB exemplars appended.",
)
IN_STORAGE = Gauge(
    "cortex_ingester_tsdb_exemplar_exemplars_in_storage",
    "Number of TSDB exemplars currently in storage.",
)
SERIES_IN_STORAGE = Gauge(
    "cortex_ingester_tsdb_exemplar_series_with_exemplars_in_storage",
    "Number of TSDB series with exemplars currently in storage.",
    ["user"],
)
LAST_TIMESTAMP = Gauge(
    "cortex_ingester_tsdb_exemplar_last_exemplars_timestamp_seconds",
    "The timestamp of the oldest exemplar stored in circular storage. Useful to check for "
    "what time range the current exemplar buffer limit allows.",
    ["user"],
)
OUT_OF_ORDER = Counter(
    "cortex_ingester_tsdb_exemplar_out_of_order_exemplars_total",
    "Total number of out of order exemplar ingestion failed attempts.",
)


@dataclass
class ExemplarAddResult:
    """What became of the exemplars of one ``add`` call."""

    appended: int = 0
    duplicates: int = 0
    """Already stored: accepted, not stored again."""
    out_of_order: int = 0
    labels_too_long: int = 0
    disabled: int = 0
    """Rejected because the tenant's limit is 0."""

    @property
    def rejected(self) -> int:
        return self.out_of_order + self.labels_too_long + self.disabled

    def __iadd__(self, other: ExemplarAddResult) -> ExemplarAddResult:
        self.appended += other.appended
        self.duplicates += other.duplicates
        self.out_of_order += other.out_of_order
        self.labels_too_long += other.labels_too_long
        self.disabled += other.disabled
        return self


class _Series:
    """A series' oldest and newest slots (ends of its list through the ring)."""

    __slots__ = ("labels", "newest", "oldest")

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.oldest = _NONE
        self.newest = _NONE


def matches_some_set(labels: Labels, matcher_sets: Sequence[Sequence[Matcher]]) -> bool:
    """True if every matcher of at least one set matches ``labels`` (selectors OR-ed)."""
    return any(all(m.matches(labels.get(m.name)) for m in ms) for ms in matcher_sets)


def _labels_length(labels: Labels) -> int:
    return len("".join(chain.from_iterable(labels)))


class ExemplarStore:
    """A tenant's exemplars; ``capacity()`` is asked on every ``add`` (limits change live).

    ``ooo_window_ms()``: how far behind a series' newest exemplar one may arrive.
    Thread-safe: the ingester adds from its append thread, queries read from others.
    """

    def __init__(
        self,
        tenant: str,
        capacity: Callable[[], int],
        ooo_window_ms: Callable[[], int] = lambda: 0,
    ) -> None:
        self.tenant = tenant
        self._capacity_fn = capacity
        self._ooo_fn = ooo_window_ms
        self._lock = threading.Lock()
        self._ex: list[Exemplar | None] = []
        self._ref: list[_Series | None] = []
        self._prev: list[int] = []
        self._next: list[int] = []
        self._index: dict[Labels, _Series] = {}
        self._by_name: dict[str, dict[Labels, _Series]] = {}
        """The same series by metric name: most selectors name their metric."""
        self._next_slot = 0
        self._stored = 0
        # Read when /metrics is scraped, not kept up to date on every add.
        SERIES_IN_STORAGE.labels(tenant).set_function(lambda: len(self._index))
        LAST_TIMESTAMP.labels(tenant).set_function(self._oldest_seconds)

    # -- writing ---------------------------------------------------------------

    def add(self, series_labels: Labels, exemplars: Sequence[Exemplar]) -> ExemplarAddResult:
        """Store ``exemplars`` of one series, in order; counts say what was kept."""
        res = ExemplarAddResult()
        if not exemplars:
            return res
        capacity = max(0, self._capacity_fn())
        window = max(0, self._ooo_fn())
        with self._lock:
            if capacity != len(self._ex):
                self._resize(capacity)
            for e in exemplars:
                self._add_one(series_labels, e, window, res)
        if res.appended:
            APPENDED.inc(res.appended)
        if res.out_of_order:
            OUT_OF_ORDER.inc(res.out_of_order)
        if res.labels_too_long:
            DISCARDED_EXEMPLARS.labels(user=self.tenant, reason="exemplar_labels_too_long").inc(
                res.labels_too_long)
        if res.disabled:
            DISCARDED_EXEMPLARS.labels(user=self.tenant, reason="exemplars_disabled").inc(
                res.disabled)
        return res

    def _add_one(self, labels: Labels, e: Exemplar, window: int,
                 res: ExemplarAddResult) -> None:
        if not self._ex:
            res.disabled += 1
            return
        if _labels_length(e.labels) > EXEMPLAR_MAX_LABEL_SET_LENGTH:
            res.labels_too_long += 1
            return
        ex = self._ex
        idx = self._index.get(labels)
        insert_after = _NONE
        if idx is not None:
            newest = ex[idx.newest]
            assert newest is not None
            if newest == e:
                res.duplicates += 1
                return
            if _out_of_order(e, newest, window):
                res.out_of_order += 1
                return
            oldest = ex[idx.oldest]
            assert oldest is not None
            if oldest.timestamp <= e.timestamp < newest.timestamp:
                insert_after = self._insertion_point(e.timestamp, idx)
                after = ex[insert_after]
                assert after is not None
                if after.timestamp == e.timestamp:
                    res.duplicates += 1
                    return
        else:
            idx = self._index[labels] = _Series(labels)
            self._by_name.setdefault(labels.name, {})[labels] = idx

        slot = self._next_slot
        victim = self._ref[slot]
        if victim is not None:
            self._unlink(slot)
            if victim.oldest == _NONE and victim is not idx:
                self._forget(victim.labels)
            elif insert_after == slot:
                # The entry to insert after was the one evicted: find the place again.
                insert_after = self._insertion_point(e.timestamp, idx)
        else:
            self._stored += 1
            IN_STORAGE.inc()

        ex[slot] = e
        self._ref[slot] = idx
        if idx.oldest == _NONE:  # new series, or its only exemplar was just evicted
            idx.oldest = idx.newest = slot
            self._prev[slot] = self._next[slot] = _NONE
        elif e.timestamp >= _ts(ex, idx.newest):
            self._link(slot, idx.newest, _NONE, idx)
        elif e.timestamp < _ts(ex, idx.oldest):
            self._link(slot, _NONE, idx.oldest, idx)
        else:
            if insert_after == _NONE:
                insert_after = self._insertion_point(e.timestamp, idx)
            self._link(slot, insert_after, self._next[insert_after], idx)
        self._next_slot = (slot + 1) % len(ex)
        res.appended += 1

    def _forget(self, labels: Labels) -> None:
        del self._index[labels]
        named = self._by_name[labels.name]
        del named[labels]
        if not named:
            del self._by_name[labels.name]

    def _insertion_point(self, ts: int, idx: _Series) -> int:
        """The newest slot of the series at or before ``ts`` (walking back from newest)."""
        i = idx.newest
        while i != _NONE:
            cur = self._ex[i]
            assert cur is not None
            if cur.timestamp <= ts:
                return i
            i = self._prev[i]
        return idx.oldest

    def _link(self, slot: int, prev: int, nxt: int, idx: _Series) -> None:
        self._prev[slot], self._next[slot] = prev, nxt
        if prev == _NONE:
            idx.oldest = slot
        else:
            self._next[prev] = slot
        if nxt == _NONE:
            idx.newest = slot
        else:
            self._prev[nxt] = slot

    def _unlink(self, slot: int) -> None:
        """Take ``slot`` out of its series' list; an emptied series has oldest == -1."""
        ref = self._ref[slot]
        assert ref is not None
        prev, nxt = self._prev[slot], self._next[slot]
        if prev != _NONE:
            self._next[prev] = nxt
        else:
            ref.oldest = nxt
        if nxt != _NONE:
            self._prev[nxt] = prev
        else:
            ref.newest = prev
        self._ref[slot] = None
        self._ex[slot] = None

    def _resize(self, capacity: int) -> None:
        """Keep the newest arrivals that fit, in their arrival order."""
        n = len(self._ex)
        arrival = [(self._next_slot + i) % n for i in range(n)] if n else []
        live = [s for s in arrival if self._ref[s] is not None]
        keep = live[len(live) - capacity:] if capacity else []
        new_pos = {old: i for i, old in enumerate(keep)}
        ex: list[Exemplar | None] = [None] * capacity
        ref: list[_Series | None] = [None] * capacity
        prev, nxt = [_NONE] * capacity, [_NONE] * capacity
        for labels, idx in list(self._index.items()):
            chain = []
            i = idx.oldest
            while i != _NONE:
                if i in new_pos:
                    chain.append(new_pos[i])
                i = self._next[i]
            if not chain:
                self._forget(labels)
                continue
            for k, p in enumerate(chain):
                ex[p] = self._ex[keep[p]]
                ref[p] = idx
                prev[p] = chain[k - 1] if k else _NONE
                nxt[p] = chain[k + 1] if k + 1 < len(chain) else _NONE
            idx.oldest, idx.newest = chain[0], chain[-1]
        self._ex, self._ref, self._prev, self._next = ex, ref, prev, nxt
        self._next_slot = len(keep) % capacity if capacity else 0
        IN_STORAGE.inc(len(keep) - self._stored)
        self._stored = len(keep)

    def _oldest_seconds(self) -> float:
        """Timestamp of the oldest arrival (Prometheus's ``last_exemplars_timestamp``)."""
        with self._lock:
            if not self._stored:
                return 0.0
            # Once full the oldest arrival is at the next slot; before, at slot 0.
            first = self._ex[self._next_slot] if self._stored == len(self._ex) else self._ex[0]
            return first.timestamp / 1000 if first is not None else 0.0

    # -- reading ---------------------------------------------------------------

    def select(
        self, mint: int, maxt: int, matcher_sets: Sequence[Sequence[Matcher]]
    ) -> list[tuple[Labels, list[Exemplar]]]:
        """Exemplars in ``[mint, maxt]`` (ms) of series matching any set, by series labels."""
        out: list[tuple[Labels, list[Exemplar]]] = []
        with self._lock:
            for labels, idx in self._candidates(matcher_sets).items():
                if _ts(self._ex, idx.oldest) > maxt or _ts(self._ex, idx.newest) < mint:
                    continue
                if not matches_some_set(labels, matcher_sets):
                    continue
                got = []
                for e in self._walk(idx):
                    if e.timestamp > maxt:
                        break
                    if e.timestamp >= mint:
                        got.append(e)
                if got:
                    out.append((labels, got))
        out.sort(key=lambda p: p[0])
        return out

    def _candidates(self, matcher_sets: Sequence[Sequence[Matcher]]) -> dict[Labels, _Series]:
        """Series that may match: those of the named metrics when every set names one."""
        names = []
        for ms in matcher_sets:
            name = next((m.value for m in ms
                         if m.name == METRIC_NAME and m.type is MatchType.EQUAL), None)
            if name is None:
                return self._index
            names.append(name)
        out: dict[Labels, _Series] = {}
        for name in names:
            out.update(self._by_name.get(name, {}))
        return out

    def _walk(self, idx: _Series) -> Iterator[Exemplar]:
        i = idx.oldest
        while i != _NONE:
            e = self._ex[i]
            assert e is not None
            yield e
            i = self._next[i]

    def by_arrival(self) -> list[tuple[Labels, list[Exemplar]]]:
        """Every stored exemplar, oldest arrival first, consecutive ones of a series together.

        ``add`` them in this order to rebuild the same store, down to which exemplar
        the next arrival evicts (the ingester logs this beside its snapshots).
        """
        out: list[tuple[Labels, list[Exemplar]]] = []
        with self._lock:
            n = len(self._ex)
            for i in range(n):
                slot = (self._next_slot + i) % n
                ref, e = self._ref[slot], self._ex[slot]
                if ref is None or e is None:
                    continue
                if out and out[-1][0] is ref.labels:
                    out[-1][1].append(e)
                else:
                    out.append((ref.labels, [e]))
        return out

    def __len__(self) -> int:
        return self._stored

    @property
    def num_series(self) -> int:
        return len(self._index)


def _ts(ex: list[Exemplar | None], slot: int) -> int:
    e = ex[slot]
    assert e is not None
    return e.timestamp


def _out_of_order(e: Exemplar, newest: Exemplar, window: int) -> bool:
    if e.timestamp < newest.timestamp:
        return e.timestamp <= newest.timestamp - window
    if e.timestamp == newest.timestamp:
        if e.value != newest.value:
            return e.value < newest.value
        return e.labels < newest.labels
    return False
