"""The moto S3 server fixtures of the objstore integration tests, shared here."""

from tests.integration.objstore.conftest import (  # noqa: F401 - pytest fixtures
    moto_factory,
    moto_s3,
    s3_bucket_name,
)
