"""Push errors: each carries the HTTP status a remote-write client acts on.

    PushError
     ├─ InvalidRequestError   400  bad bytes or every problem is the client's: do not retry
     │   └─ PartialValidationError 400 some series rejected, the valid rest was written
     ├─ UnsupportedMediaTypeError 415
     ├─ RequestTooLargeError  413
     ├─ RateLimitedError      429  retry later
     └─ UnavailableError      500  log unavailable / no active partition: retry (as Mimir)
"""

from __future__ import annotations

from tidewell.model.errors import TidewellError

__all__ = [
    "InvalidRequestError",
    "PartialValidationError",
    "PushError",
    "RateLimitedError",
    "RequestTooLargeError",
    "UnavailableError",
    "UnsupportedMediaTypeError",
]


class PushError(TidewellError):
    status = 500
    is_client = False

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class InvalidRequestError(PushError):
    status = 400
    is_client = True


class PartialValidationError(InvalidRequestError):
    """Some series failed validation; everything valid was acknowledged by the log."""


class UnsupportedMediaTypeError(PushError):
    status = 415
    is_client = True


class RequestTooLargeError(PushError):
    status = 413
    is_client = True


class RateLimitedError(PushError):
    status = 429
    is_client = True


class UnavailableError(PushError):
    status = 500
