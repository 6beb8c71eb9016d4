"""Push requests in flight, bounded per instance (Mimir's distributor instance limits).

Every push holds a slot and its body's bytes from arrival until it is answered.
Past ``-distributor.instance-limits.max-inflight-push-requests`` (or ``-bytes``)
a push is refused at once with 503, before its body is read, so a burst of
large or slow pushes cannot exhaust memory; clients retry 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.requests import Request

from tidewell.distributor import metrics as m
from tidewell.distributor.errors import PushError

__all__ = ["InflightLimitError", "InflightLimiter", "Slot", "declared_length"]


class InflightLimitError(PushError):
    """The instance is at its in-flight limit: retry later (503)."""

    status = 503


class InflightLimiter:
    """Counts pushes and their bytes in flight; 0 disables a limit."""

    def __init__(self, max_requests: int, max_bytes: int) -> None:
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.requests = 0
        self.bytes = 0

    @contextmanager
    def admit(self, size: int) -> Iterator[Slot]:
        """Hold a slot and ``size`` bytes (the declared length) for the push's lifetime."""
        if self.max_requests > 0 and self.requests >= self.max_requests:
            raise InflightLimitError(
                "the write request has been rejected because the distributor exceeded the "
                f"allowed number of inflight push requests ({self.max_requests}) "
                "(err-mimir-distributor-max-inflight-push-requests). To adjust the related "
                "limit, configure -distributor.instance-limits.max-inflight-push-requests, "
                "or contact your service administrator.")
        slot = Slot(self)
        self.requests += 1
        m.INFLIGHT_PUSH_REQUESTS.set(self.requests)
        try:
            slot.grow(size)
            yield slot
        finally:
            self.requests -= 1
            self.bytes -= slot.size
            m.INFLIGHT_PUSH_REQUESTS.set(self.requests)
            m.INFLIGHT_PUSH_REQUESTS_BYTES.set(self.bytes)


class Slot:
    """One admitted push: its bytes may grow once the body turns out larger than declared."""

    def __init__(self, limiter: InflightLimiter) -> None:
        self.limiter = limiter
        self.size = 0

    def grow(self, size: int) -> None:
        """Account ``size`` bytes in total for this push; refuse past the byte limit."""
        extra = size - self.size
        lim = self.limiter
        if extra <= 0:
            return
        if lim.max_bytes > 0 and lim.bytes + extra > lim.max_bytes:
            raise InflightLimitError(
                "the write request has been rejected because the distributor exceeded the "
                f"allowed total size in bytes of inflight push requests ({lim.max_bytes}) "
                "(err-mimir-distributor-max-inflight-push-requests-bytes). To adjust the "
                "related limit, configure "
                "-distributor.instance-limits.max-inflight-push-requests-bytes, or contact "
                "your service administrator.")
        lim.bytes += extra
        self.size = size
        m.INFLIGHT_PUSH_REQUESTS_BYTES.set(lim.bytes)


def declared_length(request: Request) -> int:
    """The body size the client announced (0 when it streams without a length)."""
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else 0
