"""Block writer → reader round trips, matcher semantics, meta.json and atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher, MatchType, matches_all
from tidewell.tsdb.block import BlockMeta, BlockReader, BlockWriter, read_meta, write_block
from tidewell.tsdb.chunks import ChunkReader, unpack_chunk_ref

T0 = 1_700_000_000_000


def make_series(n: int = 40, samples: int = 300) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        labels = Labels(
            {
                "__name__": ["cpu", "mem", "disk"][i % 3],
                "env": "prod" if i % 2 else "dev",
                "host": f"h{i:03d}",
                **({"zone": f"z{i % 4}"} if i % 5 else {}),
            }.items()
        )
        ts = T0 + np.arange(samples, dtype=np.int64) * 15_000 + i
        out.append((labels, ts, rng.normal(size=samples).cumsum()))
    out.sort(key=lambda s: s[0])
    return out


@pytest.fixture()
def block(tmp_path: Path) -> tuple[Path, list]:
    series = make_series()
    path, _ = write_block(tmp_path, series, thanos_labels={"__org_id__": "tenant-1"})
    return path, series


MATCHER_CASES = [
    [Matcher.equal("__name__", "cpu")],
    [Matcher.equal("__name__", "cpu"), Matcher.equal("env", "prod")],
    [Matcher(MatchType.NOT_EQUAL, "env", "prod")],
    [Matcher(MatchType.REGEX, "host", "h00[0-9]")],
    [Matcher(MatchType.NOT_REGEX, "host", "h0[0-2].*")],
    [Matcher.equal("zone", "")],  # series without a zone label
    [Matcher(MatchType.REGEX, "zone", "|z1")],  # absent or z1
    [Matcher(MatchType.NOT_EQUAL, "zone", "")],  # has a zone
    [Matcher.equal("__name__", "mem"), Matcher(MatchType.NOT_EQUAL, "zone", "z2")],
    [Matcher.equal("nosuch", "x")],
    [Matcher(MatchType.REGEX, "__name__", ".+")],
]


@pytest.mark.parametrize("matchers", MATCHER_CASES, ids=lambda m: ",".join(map(str, m)))
def test_select_matches_brute_force(block: tuple[Path, list], matchers: list[Matcher]) -> None:
    path, series = block
    mint, maxt = T0 + 1_000_000, T0 + 3_000_000
    with BlockReader(path) as reader:
        got = reader.querier(mint, maxt).select(matchers)
    want = []
    for labels, ts, vs in series:
        sel = (ts >= mint) & (ts <= maxt)
        if matches_all(matchers, labels) and sel.any():
            want.append((labels, ts[sel], vs[sel]))
    assert [s.labels for s in got] == [w[0] for w in want]
    for s, (_, ts, vs) in zip(got, want, strict=True):
        assert np.array_equal(s.timestamps, ts)
        assert np.array_equal(s.values, vs)


def test_label_names_and_values(block: tuple[Path, list]) -> None:
    path, series = block
    with BlockReader(path) as reader:
        q = reader.querier(T0, T0 + 10**8)
        assert q.label_names() == ["__name__", "env", "host", "zone"]
        assert q.label_values("__name__") == ["cpu", "disk", "mem"]
        assert q.label_values("zone") == ["z0", "z1", "z2", "z3"]
        cpu_hosts = sorted(lb.get("host") for lb, _, _ in series if lb.name == "cpu")
        assert q.label_values("host", [Matcher.equal("__name__", "cpu")]) == cpu_hosts
        assert "zone" not in q.label_names([Matcher.equal("zone", "")])
        # A range outside the block is empty.
        assert reader.querier(0, T0 - 1).select([Matcher.equal("env", "dev")]) == []
        assert reader.querier(0, T0 - 1).label_names() == []


def test_meta_json_shape(block: tuple[Path, list]) -> None:
    path, series = block
    raw = json.loads((path / "meta.json").read_text())
    n = sum(len(ts) for _, ts, _ in series)
    assert raw["ulid"] == path.name
    assert raw["version"] == 1
    assert raw["minTime"] == min(int(ts[0]) for _, ts, _ in series)
    assert raw["maxTime"] == max(int(ts[-1]) for _, ts, _ in series) + 1  # exclusive
    assert raw["stats"] == {"numSamples": n, "numSeries": len(series), "numChunks": 3 * 40}
    assert raw["compaction"] == {"level": 1, "sources": [path.name]}
    assert raw["thanos"]["labels"] == {"__org_id__": "tenant-1"}
    assert raw["thanos"]["downsample"] == {"resolution": 0}
    assert raw["thanos"]["source"] == "ingester"
    assert raw["thanos"]["segment_files"] == ["000001"]
    sizes = {f["rel_path"]: f.get("size_bytes") for f in raw["thanos"]["files"]}
    assert sizes["index"] == (path / "index").stat().st_size
    assert sizes["chunks/000001"] == (path / "chunks" / "000001").stat().st_size
    meta = read_meta(path)
    assert BlockMeta.from_dict(meta.to_dict()) == meta


def test_out_of_order_series_rejected_and_nothing_visible(tmp_path: Path) -> None:
    w = BlockWriter(tmp_path)
    w.add_series(Labels([("a", "2")]), np.array([1, 2]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="out of order"):
        w.add_series(Labels([("a", "1")]), np.array([1]), np.array([1.0]))
    w.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="strictly increasing"):
        write_block(tmp_path, [(Labels([("a", "1")]), np.array([2, 1]), np.array([1.0, 2.0]))])
    assert list(tmp_path.iterdir()) == []


def test_samples_outside_given_range_rejected(tmp_path: Path) -> None:
    w = BlockWriter(tmp_path, min_time=1000, max_time=2000)
    with pytest.raises(ValueError, match="outside the block range"):
        w.add_series(Labels([("a", "1")]), np.array([1500, 2000]), np.array([1.0, 2.0]))
    w.add_series(Labels([("a", "1")]), np.array([1000, 1999]), np.array([1.0, 2.0]))
    meta = w.finish()
    assert (meta.min_time, meta.max_time, meta.num_samples) == (1000, 2000, 2)


def test_segments_cut_at_size_limit(tmp_path: Path) -> None:
    series = make_series(30, 600)
    path, meta = write_block(tmp_path, series, segment_size=4096)
    segs = sorted(p.name for p in (path / "chunks").iterdir())
    assert len(segs) > 3 and segs[0] == "000001" and segs[1] == "000002"
    assert all((path / "chunks" / s).stat().st_size <= 4096 for s in segs)
    assert meta.segment_files == segs
    with BlockReader(path) as reader:
        got = reader.querier(0, 2**62).select([Matcher(MatchType.REGEX, "host", ".+")])
        refs = reader.index.series(int(reader.index.all_postings()[-1])).refs
    assert unpack_chunk_ref(int(refs[-1]))[0] == len(segs) - 1
    assert sum(len(s) for s in got) == 30 * 600


def test_prechunked_series_and_custom_range(tmp_path: Path) -> None:
    from tidewell.tsdb.chunkenc import encode_xor

    ts = np.arange(0, 240_000, 1000, dtype=np.int64)
    vs = np.arange(240, dtype=np.float64)
    chunks = [
        (int(ts[i]), int(ts[i + 119]), encode_xor(ts[i : i + 120], vs[i : i + 120]))
        for i in (0, 120)
    ]
    w = BlockWriter(tmp_path, min_time=0, max_time=7_200_000)
    w.add_series_chunks(Labels([("__name__", "x")]), chunks)
    meta = w.finish()
    assert (meta.min_time, meta.max_time, meta.num_samples, meta.num_chunks) == (
        0,
        7_200_000,
        240,
        2,
    )
    with BlockReader(w.path) as reader:
        (s,) = reader.querier(100_000, 130_000).select([Matcher.equal("__name__", "x")])
    assert s.timestamps.tolist() == list(range(100_000, 130_001, 1000))


def test_empty_block(tmp_path: Path) -> None:
    path, meta = write_block(tmp_path, [], min_time=0, max_time=1000)
    assert meta.num_series == 0
    assert list((path / "chunks").iterdir()) == []
    with BlockReader(path) as reader:
        assert reader.querier(0, 999).select([Matcher(MatchType.REGEX, "a", ".*")]) == []
        assert reader.querier(0, 999).label_names() == []
    with ChunkReader(path / "chunks") as cr:
        assert cr.total_size() == 0
