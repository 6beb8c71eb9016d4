"""``POST /otlp/v1/metrics``: OTLP metrics (protobuf or JSON, gzip or none) to RW 1.0.

The OTLP decoder (``opentelemetry-proto``'s generated modules) loads with the first
OTLP request: a process that receives none does not hold it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tidewell.distributor.distributor import Distributor
from tidewell.distributor.errors import PushError
from tidewell.distributor.httputil import error_response, media_type, read_body, request_tenant
from tidewell.distributor.inflight import InflightLimiter, declared_length
from tidewell.distributor.workers import off_loop
from tidewell.protocol.compression import decompress
from tidewell.protocol.errors import ProtocolError
from tidewell.protocol.otlp_names import OTLPNaming
from tidewell.util.priority import WRITES

__all__ = ["convert_otlp", "make_otlp_handler"]


def convert_otlp(body: bytes, encoding: str, max_size: int, json: bool, naming: OTLPNaming,
                 to_nhcb: bool, left_out: list[str]) -> memoryview:
    """An OTLP body as an uncompressed RW 1.0 request (worker thread); points that
    cannot be translated are named in ``left_out``."""
    from tidewell.protocol.otlp import decode_otlp_bytes

    raw = decompress(body, encoding, max_size)
    return decode_otlp_bytes(raw, json=json, naming=naming, errors=left_out,
                             convert_histograms_to_nhcb=to_nhcb)


def make_otlp_handler(distributor: Distributor, inflight: InflightLimiter):
    max_size = distributor.config.max_otlp_request_size

    async def otlp(request: Request) -> Response:
        tenant = request_tenant(request)
        if not tenant:
            return error_response(401, "no org id")
        media, _ = media_type(request.headers.get("content-type", ""))
        if media not in ("application/x-protobuf", "application/json"):
            return error_response(
                415,
                f"unsupported content type: {request.headers.get('content-type', '')!r}, "
                "supported: [application/json, application/x-protobuf]",
            )
        encoding = request.headers.get("content-encoding", "")
        if encoding.strip().lower() not in ("", "identity", "gzip"):
            return error_response(415, f"unsupported compression: {encoding!r}, supported: [gzip]")
        left_out: list[str] = []
        try:
            with inflight.admit(declared_length(request)) as slot:
                body = await read_body(request, max_size)
                slot.grow(len(body))
                limits = distributor.overrides.for_tenant(tenant)
                with WRITES.writing():  # query threads step aside (util/priority.py)
                    raw = await off_loop(
                        convert_otlp, body, encoding, max_size, media == "application/json",
                        OTLPNaming.from_strategy(limits.otel_strategy()),
                        limits.otel_convert_histograms_to_nhcb, left_out)
                    del body
                    await distributor.push(tenant, raw)
            if left_out:  # as Mimir: the rest is written, the client learns what was not
                return error_response(400, "\n".join(left_out))
        except ProtocolError as e:
            return error_response(e.status, str(e))
        except PushError as e:
            if e.status == 400 and left_out:  # partly written: name all that was not
                return error_response(400, "\n".join([e.message, *left_out]))
            return error_response(e.status, e.message)
        from tidewell.protocol.otlp import empty_response

        body_out, ctype = empty_response(json=media == "application/json")
        return Response(body_out, status_code=200, media_type=ctype)

    return otlp


