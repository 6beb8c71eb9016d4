"""Per-tenant TSDBs of an ingester, each with an explicit state changed by compare-and-swap.

A tenant's TSDB is its head plus the blocks cut from it that are still on local
disk; queries read both and merge series by labels, samples by timestamp (a
block and the head overlap briefly after a restart). Beside them it keeps the
tenant's exemplars and metric metadata (memory only, bounded by the tenant's
limits), which ``TenantRegistry`` serves to the query API.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable, Iterator, Sequence

from tidewell.ingester.exemplars import ExemplarStore
from tidewell.ingester.limits import LocalLimits, StaticLimits
from tidewell.ingester.metadata import MetadataStore
from tidewell.model.exemplar import Exemplar, MetricMetadata
from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher
from tidewell.model.merge import merge_series
from tidewell.model.samples import Series
from tidewell.model.storage import Querier, SelectHints, select_parts
from tidewell.tsdb.block import BlockReader
from tidewell.tsdb.head import Head, HeadQuerier

__all__ = ["TSDBState", "TenantQuerier", "TenantRegistry", "TenantTSDB"]


class TSDBState(enum.Enum):
    """Lifecycle of one tenant's TSDB (a subset of Mimir's ``tsdbState``)."""

    ACTIVE = "active"
    """Appends and queries allowed."""
    CLOSING = "closing"
    """The ingester is stopping: no more appends."""
    CLOSED = "closed"


class TenantTSDB:
    """One tenant's head, local blocks, exemplars and metadata, plus its state."""

    __slots__ = ("_lock", "_state", "blocks", "exemplars", "head", "metadata", "tenant")

    def __init__(self, tenant: str, head: Head, exemplars: ExemplarStore,
                 metadata: MetadataStore) -> None:
        self.tenant = tenant
        self.head = head
        self.blocks: tuple[BlockReader, ...] = ()
        """Local blocks, oldest first; replaced as a whole, so readers need no lock."""
        self.exemplars = exemplars
        """Exemplars by series: ``exemplars.add(series_labels, exemplars)``."""
        self.metadata = metadata
        """Metric metadata: ``metadata.add(items)``."""
        self._state = TSDBState.ACTIVE
        self._lock = threading.Lock()

    def add_blocks(self, readers: Iterable[BlockReader]) -> None:
        with self._lock:
            merged = {b.meta.ulid: b for b in (*self.blocks, *readers)}
            self.blocks = tuple(sorted(merged.values(),
                                       key=lambda b: (b.meta.min_time, b.meta.ulid)))

    def remove_blocks(self, ulids: set[str]) -> list[BlockReader]:
        """Forget blocks (before deleting them); queries still running keep their mapping."""
        with self._lock:
            gone = [b for b in self.blocks if b.meta.ulid in ulids]
            self.blocks = tuple(b for b in self.blocks if b.meta.ulid not in ulids)
            return gone

    def querier(self, mint: int, maxt: int) -> Querier:
        return TenantQuerier(self, mint, maxt)

    @property
    def state(self) -> TSDBState:
        return self._state

    def cas_state(self, old: TSDBState, new: TSDBState) -> bool:
        """Move from ``old`` to ``new``; False (and no change) if the state is not ``old``."""
        with self._lock:
            if self._state is not old:
                return False
            self._state = new
            return True


class TenantRegistry:
    """Tenant ID → ``TenantTSDB``, created on a tenant's first record.

    ``limits`` bound each tenant's exemplars and metadata (asked as they arrive,
    so overrides apply live); ``metadata_retain_s`` is how long metadata not sent
    again is kept.
    """

    def __init__(self, block_range_ms: int, limits: LocalLimits | None = None, *,
                 metadata_retain_s: float = 600.0) -> None:
        self.block_range_ms = block_range_ms
        self.limits = limits or LocalLimits(StaticLimits(), lambda: 1)
        self.metadata_retain_s = metadata_retain_s
        self._tsdbs: dict[str, TenantTSDB] = {}
        self._lock = threading.Lock()

    def _new(self, tenant: str, head: Head) -> TenantTSDB:
        lim = self.limits
        exemplars = ExemplarStore(tenant, lambda: lim.max_exemplars(tenant),
                                  lambda: lim.ooo_window_ms(tenant))
        metadata = MetadataStore(tenant, lambda: lim.max_metadata(tenant),
                                 lambda: lim.max_metadata_per_metric(tenant),
                                 retain_s=self.metadata_retain_s)
        return TenantTSDB(tenant, head, exemplars, metadata)

    def get(self, tenant: str) -> TenantTSDB | None:
        return self._tsdbs.get(tenant)

    def get_or_create(self, tenant: str) -> tuple[TenantTSDB, bool]:
        got = self._tsdbs.get(tenant)
        if got is not None:
            return got, False
        with self._lock:
            got = self._tsdbs.get(tenant)
            if got is not None:
                return got, False
            got = self._tsdbs[tenant] = self._new(tenant, Head(self.block_range_ms))
            return got, True

    def put(self, tenant: str, head: Head) -> None:
        with self._lock:
            self._tsdbs[tenant] = self._new(tenant, head)

    def __iter__(self) -> Iterator[TenantTSDB]:
        return iter(list(self._tsdbs.values()))

    def __len__(self) -> int:
        return len(self._tsdbs)

    def num_series(self) -> int:
        return sum(t.head.active_series for t in self)

    def exemplars(
        self, tenant: str, mint: int, maxt: int, matcher_sets: Sequence[Sequence[Matcher]]
    ) -> list[tuple[Labels, list[Exemplar]]]:
        """A tenant's exemplars in ``[mint, maxt]`` of series matching any matcher set."""
        tsdb = self._tsdbs.get(tenant)
        return [] if tsdb is None else tsdb.exemplars.select(mint, maxt, matcher_sets)

    def metadata(self, tenant: str, limit: int = -1, limit_per_metric: int = -1,
                 metric: str = "") -> list[MetricMetadata]:
        """A tenant's metric metadata (``MetadataStore.query``)."""
        tsdb = self._tsdbs.get(tenant)
        return [] if tsdb is None else tsdb.metadata.query(limit, limit_per_metric, metric)


class TenantQuerier:
    """Head and local blocks of one tenant as one ``Querier`` (series merged by labels).

    The head is read first and the list of blocks taken afterwards: a cut adds its
    blocks before it truncates the head, so samples moving from the head into a
    block during a query are seen at least once (the merge drops the copy), never
    missed. (Taking the blocks first lost them: the SIGKILL test caught it.)
    """

    def __init__(self, tsdb: TenantTSDB, mint: int, maxt: int) -> None:
        self.tsdb = tsdb
        self.mint = mint
        self.maxt = maxt

    def _queriers(self) -> Iterator[Querier]:
        """Head first, then the blocks as they are once the head was read."""
        yield HeadQuerier(self.tsdb.head, self.mint, self.maxt)
        for b in self.tsdb.blocks:
            if b.meta.min_time <= self.maxt and b.meta.max_time > self.mint:
                yield b.querier(self.mint, self.maxt)

    def select(self, matchers: Sequence[Matcher],
               hints: SelectHints | None = None) -> list[Series]:
        by_labels: dict[Labels, list[Series]] = {}
        answers = select_parts(self._queriers(), matchers, hints)
        for answer in answers:
            for s in answer:
                by_labels.setdefault(s.labels, []).append(s)
        if len(answers) == 1:
            return [v[0] for _, v in sorted(by_labels.items())]
        return [merge_series(by_labels[ls]) for ls in sorted(by_labels)]

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({n for q in self._queriers() for n in q.label_names(matchers)})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({v for q in self._queriers() for v in q.label_values(name, matchers)})
