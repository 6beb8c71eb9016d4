"""Remote write 2.0 (``io.prometheus.write.v2.Request``): symbol tables resolved to RW 1.0.

The distributor turns every RW 2.0 request into the RW 1.0 shape it shards and
logs (Mimir does the same for record version 1). Mimir's record version 2 is an
RW 2.0 request whose symbol references below 64 point into a fixed table of
common symbols (``V2_COMMON_SYMBOLS``) and the rest into ``symbols[ref - 64]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidewell.protocol.errors import ProtocolError
from tidewell.protocol.pb import prompb_pb2 as pb1
from tidewell.protocol.pb import writev2_pb2 as pb2

__all__ = [
    "RW2_CONTENT_TYPE",
    "V2_COMMON_SYMBOLS",
    "V2_SYMBOL_OFFSET",
    "RW2Stats",
    "rw2_to_rw1",
]

RW2_CONTENT_TYPE = "application/x-protobuf;proto=io.prometheus.write.v2.Request"

V2_SYMBOL_OFFSET = 64
# Mimir's record-version-2 table of common symbols (pkg/storage/ingest/version.go).
V2_COMMON_SYMBOLS: tuple[str, ...] = (
    "", "__name__", "__aggregation__", "<aggregated>", "le", "component",
    "cortex_request_duration_seconds_bucket", "storage_operation_duration_seconds_bucket",
    "grafana", "asserts_env", "asserts_request_context", "asserts_source",
    "asserts_entity_type", "asserts_request_type", "name", "image", "cluster", "namespace",
    "pod", "job", "instance", "container", "replicaset", "interface", "status_code",
    "resource", "operation", "method", "kube-system", "kube-system/cadvisor", "node-exporter",
    "node-exporter/node-exporter", "kube-system/kubelet", "kube-system/node-local-dns",
    "kube-state-metrics/kube-state-metrics", "default/kubernetes",
)

_TYPE_V2_TO_V1 = {i: i for i in range(8)}  # the enums share numbering


@dataclass(slots=True)
class RW2Stats:
    """What the request carried, for the ``X-Prometheus-Remote-Write-*-Written`` headers."""

    samples: int = 0
    histograms: int = 0
    exemplars: int = 0


class _Symbols:
    def __init__(self, symbols: list[str], common: tuple[str, ...] | None, offset: int) -> None:
        self.symbols = symbols
        self.common = common
        self.offset = offset

    def __call__(self, ref: int) -> str:
        if self.common is not None:
            if ref < self.offset:
                if ref >= len(self.common):
                    raise ProtocolError(f"symbol reference {ref} is not a common symbol")
                return self.common[ref]
            ref -= self.offset
        if ref >= len(self.symbols):
            raise ProtocolError(
                f"symbol reference {ref} out of range (symbols table has {len(self.symbols)})"
            )
        return self.symbols[ref]


def _pairs(refs, sym: _Symbols) -> list[tuple[str, str]]:
    if len(refs) % 2:
        raise ProtocolError("odd number of label references")
    return [(sym(refs[i]), sym(refs[i + 1])) for i in range(0, len(refs), 2)]


def _copy_histogram(src: pb2.Histogram, dst: pb1.Histogram) -> None:
    # Field numbers 1..16 are identical in both schemas; start_timestamp (17) has no RW1 home.
    data = src.SerializeToString()
    dst.MergeFromString(data)


def parse_rw2(value: bytes) -> pb2.Request:
    try:
        return pb2.Request.FromString(value)
    except Exception as e:
        raise ProtocolError(f"invalid remote write 2.0 request: {e}") from None


def rw2_to_rw1(
    req: pb2.Request, *, common_symbols: bool = False
) -> tuple[pb1.WriteRequest, RW2Stats]:
    """Resolve symbols and return the equivalent RW 1.0 request and what it carried.

    ``common_symbols`` selects Mimir's record-version-2 reference scheme.
    Metadata attached to series becomes RW 1.0 ``MetricMetadata`` (once per name).
    """
    sym = _Symbols(
        list(req.symbols), V2_COMMON_SYMBOLS if common_symbols else None, V2_SYMBOL_OFFSET
    )
    out = pb1.WriteRequest()
    stats = RW2Stats()
    seen_meta: set[str] = set()
    for ts in req.timeseries:
        pairs = _pairs(ts.labels_refs, sym)
        series = out.timeseries.add()
        name = ""
        for n, v in pairs:
            lab = series.labels.add()
            lab.name = n
            lab.value = v
            if n == "__name__":
                name = v
        for s in ts.samples:
            d = series.samples.add()
            d.value = s.value
            d.timestamp = s.timestamp
        for h in ts.histograms:
            _copy_histogram(h, series.histograms.add())
        for e in ts.exemplars:
            x = series.exemplars.add()
            for n, v in _pairs(e.labels_refs, sym):
                lab = x.labels.add()
                lab.name = n
                lab.value = v
            x.value = e.value
            x.timestamp = e.timestamp
        stats.samples += len(ts.samples)
        stats.histograms += len(ts.histograms)
        stats.exemplars += len(ts.exemplars)
        md = ts.metadata
        if name and name not in seen_meta and (md.type or md.help_ref or md.unit_ref):
            seen_meta.add(name)
            m = out.metadata.add()
            m.type = _TYPE_V2_TO_V1.get(md.type, 0)
            m.metric_family_name = name
            m.help = sym(md.help_ref)
            m.unit = sym(md.unit_ref)
    return out, stats
