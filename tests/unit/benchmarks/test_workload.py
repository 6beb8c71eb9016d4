"""The load generator's requests decode to exactly the series and samples it intended."""

from __future__ import annotations

import cramjam
import pytest

from benchmarks.wire import encode_rw1, label_field_bytes, varint
from benchmarks.workload import Workload, WorkloadSpec
from tests.unit.benchmarks.pbdecode import decode_rw1, decode_rw2


def _expected(spec: WorkloadSpec, rounds: int) -> dict[int, list]:
    """Per shard, the (labels, value, ts) sequence a twin workload says was generated."""
    twin = Workload(spec)
    out: dict[int, list] = {s: [] for s in range(spec.shards)}
    for _ in range(rounds):
        rd = twin.next_round()
        for slot in range(spec.series):
            out[slot % spec.shards].append(
                (twin.labels(slot), float(rd.values[slot]), int(rd.timestamps[slot]))
            )
    return out


def _decoded(wl: Workload, rounds: int, decode) -> dict[int, list]:
    batch = wl.encode(rounds)
    out: dict[int, list] = {}
    for shard, reqs in enumerate(batch.shards):
        out[shard] = []
        for req in reqs:
            body = bytes(cramjam.snappy.decompress_raw(req.body))
            assert len(body) == req.raw_size
            series = decode(body)
            assert len(series) == req.samples
            for labels, samples in series:
                assert len(samples) == 1
                out[shard].append((labels, samples[0][0], samples[0][1]))
    return out


@pytest.mark.parametrize(("protocol", "decode"), [(1, decode_rw1), (2, decode_rw2)])
def test_requests_decode_to_intended_series(protocol: int, decode) -> None:
    spec = WorkloadSpec(series=250, samples_per_request=70, shards=3, protocol=protocol,
                        churn=0.2, metrics_per_target=10, start_ms=1_700_000_000_000)
    got = _decoded(Workload(spec), 3, decode)
    assert got == _expected(spec, 3)
    # all 3 rounds x 250 series arrived, with ~10 labels each, sorted, __name__ first
    assert sum(len(v) for v in got.values()) == 750
    for labels, _v, _t in got[0]:
        assert len(labels) == 10
        assert labels[0][0] == "__name__"
        assert list(labels) == sorted(labels)


def test_request_size_and_ordering_per_shard() -> None:
    spec = WorkloadSpec(series=100, samples_per_request=30, shards=2, metrics_per_target=10,
                        start_ms=0, scrape_interval_s=15)
    batch = Workload(spec).encode(2)
    assert batch.samples == 200
    # each shard carries 100 samples in requests of 30: 30, 30, 30, 10
    assert [r.samples for r in batch.shards[0]] == [30, 30, 30, 10]
    got = _decoded(Workload(spec), 2, decode_rw1)
    for seq in got.values():
        last: dict = {}
        for labels, _v, ts in seq:
            assert ts > last.get(labels, -1), "a series' samples must stay in order in a shard"
            last[labels] = ts
    # timestamps: fixed offset per target inside the interval, one interval apart
    by_series: dict = {}
    for seq in got.values():
        for labels, _v, ts in seq:
            by_series.setdefault(labels, []).append(ts)
    for ts in by_series.values():
        assert ts[1] - ts[0] == 15_000
        assert 0 <= ts[0] < 15_000


def test_shared_label_values_and_counters() -> None:
    wl = Workload(WorkloadSpec(series=1000, metrics_per_target=100, seed=7))
    labels = [dict(ls) for ls in wl.iter_series()]
    assert len({tuple(sorted(d.items())) for d in labels}) == 1000
    assert len({d["__name__"] for d in labels}) == 100
    assert len({d["instance"] for d in labels}) == 10
    assert len({d["job"] for d in labels}) == 5
    r0, r1 = wl.next_round(), wl.next_round()
    # counters (even metric index, name ends in _total) never decrease
    for slot, d in enumerate(labels):
        if d["__name__"].endswith("_total"):
            assert r1.values[slot] > r0.values[slot]


def test_same_seed_same_bytes_and_other_seed_differs() -> None:
    spec = WorkloadSpec(series=200, samples_per_request=50, start_ms=1_000, seed=3)
    a = Workload(spec).encode(2)
    b = Workload(spec).encode(2)
    c = Workload(WorkloadSpec(series=200, samples_per_request=50, start_ms=1_000, seed=4)).encode(2)
    assert [r.body for s in a.shards for r in s] == [r.body for s in b.shards for r in s]
    assert [r.body for s in a.shards for r in s] != [r.body for s in c.shards for r in s]


def test_churn_replaces_the_chosen_fraction_of_targets() -> None:
    wl = Workload(WorkloadSpec(series=1000, metrics_per_target=10, churn=0.25))
    wl.next_round()
    before = set(wl.iter_series())
    wl.next_round()
    after = set(wl.iter_series())
    # 100 targets, 25 churned, 10 series each
    assert len(after - before) == 250
    assert len(after) == 1000


def test_varint_and_rw1_match_protobuf_classes() -> None:
    assert varint(0) == b"\x00"
    assert varint(300) == b"\xac\x02"
    assert varint(-1) == b"\xff" * 9 + b"\x01"
    pb = pytest.importorskip("tidewell.protocol.pb.prompb_pb2")  # cross-check only
    labels = [("__name__", "up"), ("job", "a")]
    body = encode_rw1([label_field_bytes(labels)] * 2, [1.5, -2.0], [1_700_000_000_123, -5])
    req = pb.WriteRequest.FromString(body)
    assert [(lb.name, lb.value) for lb in req.timeseries[0].labels] == labels
    assert [(s.value, s.timestamp) for ts in req.timeseries for s in ts.samples] == [
        (1.5, 1_700_000_000_123), (-2.0, -5)
    ]


def test_probes_are_the_last_samples_sent_on_each_shard() -> None:
    spec = WorkloadSpec(series=103, samples_per_request=40, shards=4, metrics_per_target=10,
                        start_ms=5_000_000)
    wl = Workload(spec)
    batch = wl.encode(2)
    probes = wl.probes()
    assert len(probes) == 4
    for shard, (labels, ts) in zip(range(4), probes, strict=True):
        last = bytes(cramjam.snappy.decompress_raw(batch.shards[shard][-1].body))
        got_labels, samples = decode_rw1(last)[-1]
        assert (got_labels, samples[0][1]) == (labels, ts)
    first_labels, first_ts = wl.first_probe
    head = bytes(cramjam.snappy.decompress_raw(batch.shards[0][0].body))
    assert decode_rw1(head)[0][0] == first_labels
    assert decode_rw1(head)[0][1][0][1] == first_ts
    assert wl.round_start_ms(1) == 5_000_000 + 15_000


def test_selector_quotes_label_values() -> None:
    from benchmarks.scenarios.catchup import selector

    sel = selector((("__name__", "up"), ("path", 'a"b\\c')))
    assert sel == '{__name__="up", path="a\\"b\\\\c"}'


def _streamed(wl: Workload, rounds: int) -> tuple[list[list], int]:
    """Each shard's requests from ``wl.stream(rounds)``, and how many items it yielded."""
    got: list[list] = [[] for _ in range(wl.spec.shards)]
    items = 0
    for item in wl.stream(rounds):
        items += 1
        for shard, reqs in enumerate(item):
            got[shard] += reqs
    return got, items


@pytest.mark.parametrize(
    "spec",
    [
        # requests span round boundaries (40 series per shard, 70 per request)
        WorkloadSpec(series=250, samples_per_request=70, shards=3, metrics_per_target=10,
                     start_ms=1_700_000_000_000),
        # one request gathers several rounds; more shards than series
        WorkloadSpec(series=3, samples_per_request=7, shards=4, start_ms=1_700_000_000_000),
        # 4-byte timestamp varints
        WorkloadSpec(series=500, samples_per_request=100, shards=2, start_ms=2**21, seed=9),
    ],
)
def test_stream_is_byte_identical_to_encode(spec: WorkloadSpec) -> None:
    twin = Workload(spec)
    first = twin.encode(3)
    first_probes = (twin.first_probe, twin.probes())
    second = twin.encode(4)
    wl = Workload(spec)
    got, items = _streamed(wl, 3)
    assert items == 4  # one per round, then the partial requests left over
    assert got == first.shards
    assert (wl.first_probe, wl.probes()) == first_probes
    got, _ = _streamed(wl, 4)  # a second stream continues the rounds, as encode does
    assert got == second.shards
    assert (wl.first_probe, wl.probes()) == (twin.first_probe, twin.probes())


def test_stream_encodes_one_round_per_item() -> None:
    wl = Workload(WorkloadSpec(series=100, samples_per_request=30, start_ms=1_700_000_000_000))
    it = wl.stream(50)
    # 25 series per shard: round 0 fills no request of 30, round 1 one per shard
    assert next(it) == [[], [], [], []]
    assert wl.last_round is not None and wl.last_round.index == 0
    second = next(it)
    assert wl.last_round.index == 1
    assert [[r.samples for r in reqs] for reqs in second] == [[30]] * 4


def test_stream_refuses_what_fixed_templates_cannot_encode() -> None:
    with pytest.raises(ValueError, match="without churn"):
        next(Workload(WorkloadSpec(series=10, protocol=2)).stream(1))
    with pytest.raises(ValueError, match="without churn"):
        next(Workload(WorkloadSpec(series=10, churn=0.1)).stream(1))
    # targets' offsets put round 0 on both sides of 16,384 ms: 2- and 3-byte varints
    with pytest.raises(ValueError, match="varints"):
        next(Workload(WorkloadSpec(series=1000, metrics_per_target=1, start_ms=10_000)).stream(1))
