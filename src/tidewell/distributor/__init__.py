"""The distributor: the write path's front door (validation, limits, sharding, logging).

``Distributor`` takes uncompressed RW 1.0 bytes per tenant; ``push_routes``
exposes it over HTTP for remote write 1.0/2.0 and OTLP.
"""

from tidewell.distributor.config import DistributorConfig
from tidewell.distributor.distributor import Distributor, PushResult, RingSource
from tidewell.distributor.errors import (
    InvalidRequestError,
    PartialValidationError,
    PushError,
    RateLimitedError,
    RequestTooLargeError,
    UnavailableError,
    UnsupportedMediaTypeError,
)
from tidewell.distributor.http import push_routes
from tidewell.distributor.limits import Limits, Overrides, RuntimeConfigConfig

__all__ = [
    "Distributor",
    "DistributorConfig",
    "InvalidRequestError",
    "Limits",
    "Overrides",
    "PartialValidationError",
    "PushError",
    "PushResult",
    "RateLimitedError",
    "RequestTooLargeError",
    "RingSource",
    "RuntimeConfigConfig",
    "UnavailableError",
    "UnsupportedMediaTypeError",
    "push_routes",
]
