"""HTTP push endpoints: ``POST /api/v1/push`` (RW 1.0 and 2.0) and ``POST /otlp/v1/metrics``.

The tenant comes from ``request.state.tenant`` (set by the server's tenant
middleware). Bodies are read with a size bound and decompressed with a bound
(checked before allocating), so a small request can never make us allocate a
huge buffer; decompression and conversion run on the push worker threads
(``workers``), never on the event loop.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tidewell.distributor.distributor import Distributor, PushResult
from tidewell.distributor.errors import PushError
from tidewell.distributor.httputil import error_response, media_type, read_body, request_tenant
from tidewell.distributor.inflight import InflightLimiter, declared_length
from tidewell.distributor.otlp_http import make_otlp_handler
from tidewell.distributor.workers import INLINE_MAX_BYTES, inline_when, off_loop
from tidewell.protocol.compression import decompress, snappy_uncompressed_length
from tidewell.protocol.errors import ProtocolError
from tidewell.protocol.rw2 import RW2Stats
from tidewell.protocol.wire_rw2 import transcode_rw2
from tidewell.util.priority import WRITES

__all__ = ["decode_remote_write", "decoded_size", "push_routes"]

_RW1_PROTO = "prometheus.WriteRequest"
_RW2_PROTO = "io.prometheus.write.v2.Request"
# Remote write's Content-Encoding is snappy (RW 1.0 and 2.0); absent means snappy, as in
# Prometheus. gzip and identity are read too, as before; anything else is a 415.
_RW_ENCODINGS = ("snappy", "gzip", "x-gzip", "deflate", "identity")


def _rw2_headers(stats: PushResult | RW2Stats | None) -> dict[str, str]:
    s = stats or RW2Stats()
    return {
        "X-Prometheus-Remote-Write-Samples-Written": str(s.samples),
        "X-Prometheus-Remote-Write-Histograms-Written": str(s.histograms),
        "X-Prometheus-Remote-Write-Exemplars-Written": str(s.exemplars),
    }


def decode_remote_write(body: bytes, encoding: str, max_size: int,
                        is_rw2: bool) -> bytes | memoryview:
    """A push body as an uncompressed RW 1.0 request (worker thread)."""
    raw = decompress(body, encoding, max_size)
    if is_rw2:
        raw, _stats = transcode_rw2(raw)
    return raw


def decoded_size(body: bytes, encoding: str) -> int:
    """What ``body`` decodes to, as far as known before decoding (gzip: unknown, "huge")."""
    if encoding == "snappy":
        return snappy_uncompressed_length(body)
    if encoding == "identity":
        return len(body)
    return 1 << 62


def make_push_handler(distributor: Distributor, inflight: InflightLimiter):
    max_size = distributor.config.max_recv_msg_size

    async def push(request: Request) -> Response:
        tenant = request_tenant(request)
        if not tenant:
            return error_response(401, "no org id")
        media, params = media_type(request.headers.get("content-type", ""))
        proto = params.get("proto", _RW1_PROTO)
        is_rw2 = proto == _RW2_PROTO
        if media not in ("", "application/x-protobuf") or proto not in (_RW1_PROTO, _RW2_PROTO):
            return error_response(
                415,
                f"unsupported content type {request.headers.get('content-type')!r}, expected "
                f"application/x-protobuf with proto={_RW1_PROTO} or proto={_RW2_PROTO}",
                _rw2_headers(None) if is_rw2 else None,
            )
        encoding = request.headers.get("content-encoding", "").strip().lower() or "snappy"
        if encoding not in _RW_ENCODINGS:
            return error_response(
                415,
                f"{request.headers.get('content-encoding')} encoding (compression) is not "
                "accepted by this server; only snappy is acceptable for remote write "
                "(gzip and identity are also read)",
                _rw2_headers(None) if is_rw2 else None,
            )
        try:
            with inflight.admit(declared_length(request)) as slot:
                body = await read_body(request, max_size)
                slot.grow(len(body))
                # From a complete body on, query threads step aside (a slow sender
                # does not hold them); see util/priority.py.
                with WRITES.writing(), \
                        inline_when(decoded_size(body, encoding) <= INLINE_MAX_BYTES):
                    raw = await off_loop(decode_remote_write, body, encoding, max_size, is_rw2)
                    del body
                    result = await distributor.push(tenant, raw)
        except ProtocolError as e:
            return error_response(e.status, str(e), _rw2_headers(None) if is_rw2 else None)
        except PushError as e:
            headers = e.headers if is_rw2 and e.headers else (
                _rw2_headers(None) if is_rw2 else None
            )
            return error_response(e.status, e.message, headers)
        if is_rw2:
            return Response(status_code=204, headers=_rw2_headers(result))
        return Response(status_code=200)

    return push


def push_routes(distributor: Distributor) -> list[Route]:
    """Routes for remote write and OTLP ingestion, bound to ``distributor``."""
    limits = distributor.config.instance_limits
    inflight = InflightLimiter(limits.max_inflight_push_requests,
                               limits.max_inflight_push_requests_bytes)
    return [
        Route("/api/v1/push", make_push_handler(distributor, inflight), methods=["POST"]),
        Route("/otlp/v1/metrics", make_otlp_handler(distributor, inflight), methods=["POST"]),
    ]
