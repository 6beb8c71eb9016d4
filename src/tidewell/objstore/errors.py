"""What can go wrong talking to a bucket, as one small tree of named errors.

::

    BucketError                   any failed bucket operation (has .operation, .key)
    ├── ObjectNotFoundError       the object does not exist (never retry)
    ├── BucketAccessDeniedError   credentials rejected or missing permission
    └── BucketUnavailableError    the store could not be reached or failed to answer
                                  in time, after the client's own retries (retry later)
    InvalidKeyError (ValueError)  a key that no backend can store
    InvalidBucketConfigError (ValueError)  a setting is wrong; the message names its flag

Every backend maps its own failures onto these, so callers (shipper,
store-gateway, bucket index) handle one set of exceptions whatever the backend.
"""

from __future__ import annotations

from tidewell.model.errors import TidewellError

__all__ = [
    "BucketAccessDeniedError",
    "BucketError",
    "BucketUnavailableError",
    "InvalidBucketConfigError",
    "InvalidKeyError",
    "ObjectNotFoundError",
]


class BucketError(TidewellError):
    """A bucket operation failed; ``operation`` and ``key`` say which one."""

    def __init__(self, message: str, *, operation: str = "", key: str = "") -> None:
        super().__init__(message)
        self.operation = operation
        self.key = key


class ObjectNotFoundError(BucketError):
    """The object does not exist."""


class BucketAccessDeniedError(BucketError):
    """The store refused the credentials or the operation."""


class BucketUnavailableError(BucketError):
    """The store could not be reached or failed to answer in time; worth retrying later."""


class InvalidKeyError(TidewellError, ValueError):
    """A key is empty, absolute, or has empty, ``.`` or ``..`` segments."""


class InvalidBucketConfigError(TidewellError, ValueError):
    """A ``blocks_storage`` bucket setting is invalid; the message names the flag."""
