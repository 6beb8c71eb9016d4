"""Stored rule groups are Mimir's ``rules.RuleGroupDesc`` bytes.

The golden bytes are built here by hand from the field numbers and wire types of
Mimir's pkg/ruler/rulespb/rules.proto (independent of our generated code), with
gogoproto's non-nullable durations always present: what Mimir's ruler writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewell.objstore.filesystem import FilesystemBucket
from tidewell.ruler.groupdesc import GroupDecodeError, decode_group, encode_group
from tidewell.ruler.rulefmt import parse_group
from tidewell.ruler.store import BucketRuleStore, encode_name


def varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([b])
        out += bytes([b | 0x80])


def field(num: int, payload: bytes | str) -> bytes:  # wire type 2: length-delimited
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(num << 3 | 2) + varint(len(data)) + data


def duration(num: int, seconds: int = 0, nanos: int = 0) -> bytes:  # google.protobuf.Duration
    body = (varint(1 << 3) + varint(seconds) if seconds else b"") + \
        (varint(2 << 3) + varint(nanos) if nanos else b"")
    return field(num, body)


def label(num: int, name: str, value: str) -> bytes:  # cortexpb.LabelPair: name 1, value 2
    return field(num, field(1, name) + field(2, value))


GROUP_YAML = """name: g
interval: 30s
query_offset: 2m
rules:
  - record: job:up:sum
    expr: sum by (job) (up)
    labels: {team: a}
  - alert: Down
    expr: up == 0
    for: 5m
    keep_firing_for: 1m30s
    labels: {severity: page, env: prod}
    annotations: {summary: "{{ $labels.job }} is down"}
"""

# RuleGroupDesc: name 1, namespace 2, interval 3, rules 4, user 6, evaluationDelay 11,
# queryOffset 13. RuleDesc: expr 1, record 2, alert 3, for 4, labels 5, annotations 6,
# keep_firing_for 13. Labels sorted by name (Mimir's labels.FromMap).
MIMIR_BYTES = (
    field(1, "g") + field(2, "ns") + duration(3, 30)
    + field(4, field(1, "sum by (job) (up)") + field(2, "job:up:sum") + duration(4)
            + label(5, "team", "a") + duration(13))
    + field(4, field(1, "up == 0") + field(3, "Down") + duration(4, 300)
            + label(5, "env", "prod") + label(5, "severity", "page")
            + label(6, "summary", "{{ $labels.job }} is down") + duration(13, 90))
    + field(6, "team-a") + duration(11) + duration(13, 120)
)


def test_we_write_mimirs_bytes() -> None:
    assert encode_group("team-a", "ns", parse_group(GROUP_YAML)) == MIMIR_BYTES


def test_we_read_mimirs_bytes() -> None:
    assert decode_group(MIMIR_BYTES) == ("team-a", "ns", parse_group(GROUP_YAML))


def test_older_mimir_evaluation_delay_reads_as_query_offset() -> None:
    older = field(1, "g") + field(4, field(1, "up") + field(2, "r")) + duration(11, 60)
    assert decode_group(older)[2].query_offset == 60.0


def test_limit_and_group_labels_survive_in_options() -> None:
    group = parse_group("name: g\nlimit: 7\nlabels: {tier: gold}\n"
                        "rules:\n  - record: r\n    expr: up\n")
    data = encode_group("t", "ns", group)
    assert decode_group(data)[2] == group
    # field 9: google.protobuf.Any {type_url 1, value 2}, which Mimir keeps unread;
    # the value is our GroupOptions {limit 1 (varint), labels 2}
    options = varint(1 << 3) + varint(7) + label(2, "tier", "gold")
    assert field(9, field(1, "type.googleapis.com/tidewell.rules.GroupOptions")
                 + field(2, options)) in data


def test_what_we_cannot_evaluate_is_refused() -> None:
    with pytest.raises(GroupDecodeError, match="sourceTenants"):
        decode_group(field(1, "g") + field(10, "other-tenant"))
    with pytest.raises(GroupDecodeError, match="not a RuleGroupDesc"):
        decode_group(b"name: g\nrules: []\n")


def test_bucket_objects_are_mimirs_bytes(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path)
    store = BucketRuleStore(bucket)
    store.set_group("team-a", "ns", parse_group(GROUP_YAML))
    key = f"rules/team-a/{encode_name('ns')}/{encode_name('g')}"
    assert bucket.get(key) == MIMIR_BYTES
    bucket.put(f"rules/team-a/{encode_name('ns')}/{encode_name('h')}",
               MIMIR_BYTES.replace(field(1, "g"), field(1, "h"), 1))  # as Mimir writes it
    assert [g.name for g in store.list_groups("team-a")["ns"]] == ["g", "h"]
