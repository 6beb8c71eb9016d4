"""Query shards: Mimir's ``N_of_M`` label value and Prometheus's ``labels.StableHash``."""

from __future__ import annotations

import numpy as np
import pytest
import xxhash

from tidewell.model import Labels, Matcher, MatchType
from tidewell.model.shard import (
    SHARD_LABEL,
    InvalidShardError,
    SeriesHashes,
    ShardSelector,
    split_shard,
    stable_hash,
)


def test_label_value_is_one_based_and_parses_back() -> None:
    s = ShardSelector(0, 16)
    assert s.label_value() == "1_of_16"
    assert s.matcher() == Matcher(MatchType.EQUAL, "__query_shard__", "1_of_16")
    assert ShardSelector.parse("16_of_16") == ShardSelector(15, 16)


@pytest.mark.parametrize("bad", ["0_of_4", "5_of_4", "1_of_0", "1-of-4", "a_of_4", "1_of_4_x",
                                 "", "-1_of_4"])
def test_malformed_values_are_refused(bad: str) -> None:
    with pytest.raises(InvalidShardError, match="invalid shard ID"):
        ShardSelector.parse(bad)


def test_stable_hash_is_xxhash64_of_names_and_values_with_0xff_separators() -> None:
    lb = Labels([("__name__", "up"), ("job", "node"), ("é", "\u00ff")])
    raw = (b"__name__\xffup\xffjob\xffnode\xff" + "é".encode() + b"\xff"
           + "\u00ff".encode() + b"\xff")
    assert stable_hash(lb) == xxhash.xxh64_intdigest(raw)
    assert stable_hash(Labels()) == 0xEF46DB3751D8E999  # xxhash64 of nothing


def test_split_shard_takes_out_only_the_shard_matcher() -> None:
    a = Matcher(MatchType.EQUAL, "__name__", "x")
    b = Matcher(MatchType.REGEX, "job", ".+")
    shard, rest = split_shard([a, ShardSelector(2, 4).matcher(), b])
    assert shard == ShardSelector(2, 4) and rest == [a, b]
    assert split_shard([a, b]) == (None, [a, b])
    # Only an equality on the label is a shard selection (as Mimir's ShardFromMatchers).
    other = Matcher(MatchType.REGEX, SHARD_LABEL, "1_of_2")
    assert split_shard([other]) == (None, [other])


def test_every_series_is_in_exactly_one_shard() -> None:
    series = [Labels([("__name__", "m"), ("i", str(i))]) for i in range(500)]
    shards = [ShardSelector(i, 8) for i in range(8)]
    owners = [[s.owns(lb) for s in shards] for lb in series]
    assert all(sum(o) == 1 for o in owners)
    per_shard = [sum(o[i] for o in owners) for i in range(8)]
    assert min(per_shard) > 30  # spread, not all in one
    assert shards[3].keep(series) == [o[3] for o in owners]


def test_a_nul_inside_a_value_hashes_as_the_bytes_say() -> None:
    assert stable_hash(Labels([("a", "x\x00y")])) == xxhash.xxh64_intdigest(b"a\xffx\x00y\xff")


def test_series_hashes_are_computed_once_per_id() -> None:
    series = [Labels([("__name__", "m"), ("i", str(i))]) for i in range(300)]
    asked: list[int] = []

    def labels_of(i: int) -> Labels:
        asked.append(i)
        return series[i]

    cache = SeriesHashes()
    for k in range(3):
        shard = ShardSelector(k, 3)
        ids = np.arange(k * 50, 300, dtype=np.int32)  # growing the table as it goes
        assert cache.keep(shard, ids, labels_of).tolist() == shard.keep(series[k * 50:])
    assert sorted(asked) == list(range(300))
    assert cache.keep(ShardSelector(0, 3), np.zeros(0, dtype=np.int32), labels_of).size == 0


def test_split_partitions_a_shard() -> None:
    """The k shards ``i + M*j`` of ``M*k`` hold exactly the series of shard ``i`` of ``M``."""
    labels = [Labels([("__name__", "m"), ("i", str(i))]) for i in range(500)]
    parent = ShardSelector(1, 3)
    parts = parent.split(4)
    assert [p.label_value() for p in parts] == ["2_of_12", "5_of_12", "8_of_12", "11_of_12"]
    owners = [[p.owns(lb) for p in parts] for lb in labels]
    assert all(sum(o) == int(parent.owns(lb)) for o, lb in zip(owners, labels, strict=True))
    assert all(any(o[j] for o in owners) for j in range(4))
