"""The read seam: what ingesters, store-gateways and the querier each implement.

The PromQL engine and the HTTP API only ever see these two protocols, so they
never know whether data comes from a head in memory, blocks in a bucket, or a
remote process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from tidewell.model.errors import TidewellError
from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher, MatchType
from tidewell.model.samples import Series
from tidewell.model.shard import ShardSelector, split_shard, stable_hash

__all__ = ["Querier", "Queryable", "SelectHints", "SelectLimitError", "select_parts"]

_PIN_SHARDS = 1 << 32  # ``_same_series`` pins a series to the shard of its hash among these


@dataclass(frozen=True)
class SelectHints:
    """What one ``select`` may still fetch (0 = no limit), so sources stop early.

    ``max_bytes`` counts samples as the engine holds them decoded (16 bytes per
    float sample, ``promql.budget.series_bytes``); ``max_samples`` is the samples
    the query may still hold (the engine then evaluates the selection in shards of
    its series). A source checks them once it knows the matching series and their
    chunks, before decoding anything, and raises ``SelectLimitError``; the query's
    budget still checks the merged answer.
    """

    max_series: int = 0
    max_bytes: int = 0
    max_samples: int = 0

    @property
    def counts_samples(self) -> bool:
        """Whether the source should count the chunks' samples before decoding them."""
        return bool(self.max_bytes or self.max_samples)

    def check(self, series: int, samples: int = 0) -> None:
        """Raise ``SelectLimitError`` if ``series`` series or ``samples`` float samples
        (a lower bound: chunks wholly inside the range) exceed the hints."""
        if self.max_series and series > self.max_series:
            raise SelectLimitError("series", self.max_series)
        if self.max_bytes and 16 * samples > self.max_bytes:
            raise SelectLimitError("bytes", self.max_bytes)
        if self.max_samples and samples > self.max_samples:
            raise SelectLimitError("samples", self.max_samples, series, samples)


class SelectLimitError(TidewellError):
    """A source stopped a ``select`` that would pass ``SelectHints``; ``what`` is
    "series", "bytes" or "samples", ``limit`` the hint it passed. For "samples",
    ``series`` and ``samples`` say what the source found (samples: a lower bound)."""

    def __init__(self, what: str, limit: int, series: int = 0, samples: int = 0) -> None:
        self.what = what
        self.limit = limit
        self.series = series
        self.samples = samples
        super().__init__(f"select would fetch more than {limit} {what}")


class Querier(Protocol):
    """Reads one tenant's data within ``[mint, maxt]`` (milliseconds, inclusive)."""

    def select(self, matchers: Sequence[Matcher],
               hints: SelectHints | None = None) -> list[Series]:
        """Series whose labels match every matcher, with their samples in range.

        Series with no sample in range are omitted. Results are sorted by labels.
        A ``__query_shard__`` matcher selects a shard of the series (``model.shard``),
        never a label: the engine shards large range functions with it.
        With ``hints``, raises ``SelectLimitError`` as soon as the answer would pass them.
        """
        ...

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        """Sorted label names of series in range (matching ``matchers`` if given)."""
        ...

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        """Sorted distinct values of ``name`` over series in range."""
        ...


class Queryable(Protocol):
    """Hands out queriers bound to a tenant and a time range."""

    def querier(self, tenant: str, mint: int, maxt: int) -> Querier: ...


def select_parts(queriers: Iterable[Querier], matchers: Sequence[Matcher],
                 hints: SelectHints | None = None, *,
                 disjoint: bool = False) -> list[list[Series]]:
    """Each querier's ``select`` answer, one after another, as parts of one select.

    The samples hint bounds the parts together (head and blocks, partitions,
    ingesters and store): each part is asked for the room the parts before it left,
    so the part that would pass it refuses before decoding, and the error says what
    all parts found. Samples are summed (a copy in both the head and a block being
    cut counts twice). Series: the distinct labels the parts before answered plus
    the refusing part's count for ``disjoint`` parts (partitions: a series is
    written to one), else the larger of the two (time-split parts: the same series
    spans them, and the sum would split a single series into shards for nothing).
    The engine selects a shard reported as one series whole, so that count must
    never be low: when one series was answered and the refusing part found one,
    it is asked again pinned to that series (``_same_series``) -- the same series
    (or one moved between partitions) counts once, two different ones twice.
    """
    if hints is None or not hints.max_samples:
        return [q.select(matchers, hints) for q in queriers]
    limit = hints.max_samples
    answers: list[list[Series]] = []
    held = 0
    for q in queriers:
        room = replace(hints, max_samples=max(1, limit - held))
        try:
            got = q.select(matchers, room)
        except SelectLimitError as exc:
            if exc.what != "samples":
                raise
            seen = {s.labels for a in answers for s in a}
            if len(seen) == 1 and exc.series == 1:
                found = 1 if _same_series(q, matchers, room, next(iter(seen))) else 2
            elif disjoint:
                found = len(seen) + exc.series
            else:
                found = max(len(seen), exc.series)
            raise SelectLimitError("samples", limit, found, held + exc.samples) from exc
        answers.append(got)
        held += sum(len(s.timestamps) for s in got)
        if held > limit:
            raise SelectLimitError("samples", limit,
                                   len({s.labels for a in answers for s in a}), held)
    return answers


def _same_series(q: Querier, matchers: Sequence[Matcher], hints: SelectHints,
                 labels: Labels) -> bool:
    """Whether the one series ``q`` refused ``hints`` for is ``labels``: asked again
    with an equality matcher per label, and for the shard of its hash among 2^32 in
    place of the query's shard (a series with extra labels has another hash), it
    refuses again only for that series."""
    _, rest = split_shard(matchers)
    pin = ShardSelector(stable_hash(labels) % _PIN_SHARDS, _PIN_SHARDS)
    pins = [Matcher(MatchType.EQUAL, name, value) for name, value in labels]
    try:
        q.select([*rest, *pins, pin.matcher()], hints)
    except SelectLimitError as exc:
        return exc.what == "samples" and exc.series >= 1
    return False
