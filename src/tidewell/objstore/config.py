"""Bucket settings, shaped as Mimir's ``blocks_storage`` backend block.

The lead nests :class:`BucketConfig` under ``blocks_storage``, so YAML keys and
flags come out as Mimir's: ``-blocks-storage.backend``,
``-blocks-storage.s3.bucket-name``, ``-blocks-storage.filesystem.dir`` …
Settings Mimir has but obstore cannot honour (signature v2, list-objects
version, storage class, trace) are left out rather than silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from tidewell.objstore.errors import InvalidBucketConfigError
from tidewell.util.config_fields import setting

__all__ = [
    "BACKENDS",
    "AzureConfig",
    "BucketConfig",
    "FilesystemConfig",
    "GCSConfig",
    "S3Config",
    "S3HTTPConfig",
    "S3SSEConfig",
]

BACKENDS = ("filesystem", "s3", "gcs", "azure", "memory")
BUCKET_LOOKUP_TYPES = ("auto", "virtual-hosted", "path")
SSE_TYPES = ("", "SSE-KMS", "SSE-S3")
_PREFIX_OK = re.compile(r"^[0-9A-Za-z]+$")


@dataclass
class S3SSEConfig:
    type: str = field(
        default="",
        metadata=setting(
            "Enable AWS Server Side Encryption. Supported values: SSE-KMS, SSE-S3.",
            choices=SSE_TYPES,
        ),
    )
    kms_key_id: str = field(
        default="", metadata=setting("KMS Key ID used to encrypt objects in S3")
    )


@dataclass
class S3HTTPConfig:
    idle_conn_timeout: float = field(
        default=90.0,
        metadata=setting(
            "The time an idle connection will remain idle before closing.", kind="duration"
        ),
    )
    response_header_timeout: float = field(
        default=120.0,
        metadata=setting(
            "The amount of time the client will wait for a server's response. Tidewell "
            "applies it to each whole HTTP request (each part of a multipart upload).",
            kind="duration",
        ),
    )
    insecure_skip_verify: bool = field(
        default=False,
        metadata=setting(
            "If the client connects to S3 via HTTPS and this option is enabled, the client "
            "will accept any certificate and hostname."
        ),
    )


@dataclass
class S3Config:
    endpoint: str = field(
        default="",
        metadata=setting(
            "The S3 bucket endpoint: an AWS S3 endpoint or the address of an S3-compatible "
            "service in hostname:port format (a scheme, if given, is kept)."
        ),
    )
    region: str = field(
        default="",
        metadata=setting("S3 region. If unset, us-east-1 is used."),
    )
    bucket_name: str = field(default="", metadata=setting("S3 bucket name"))
    secret_access_key: str = field(
        default="", metadata=setting("S3 secret access key", secret=True)
    )
    access_key_id: str = field(default="", metadata=setting("S3 access key ID"))
    session_token: str = field(default="", metadata=setting("S3 session token", secret=True))
    insecure: bool = field(
        default=False,
        metadata=setting(
            "If enabled, use http:// for the S3 endpoint instead of https://. This could be "
            "useful in local dev/test environments while using an S3-compatible backend "
            "storage, like Minio."
        ),
    )
    bucket_lookup_type: str = field(
        default="auto",
        metadata=setting(
            "Bucket lookup style type, used to access bucket in S3-compatible service. "
            "auto means path-style for a custom endpoint, virtual-hosted for AWS.",
            choices=BUCKET_LOOKUP_TYPES,
        ),
    )
    max_retries: int = field(
        default=10,
        metadata=setting(
            "The maximum number of attempts for S3 requests that are retryable. Set this "
            "to 1 to disable retries."
        ),
    )
    part_size: int = field(
        default=0,
        metadata=setting(
            "The part size in bytes for multipart uploads. If 0, 5 MiB parts are used."
        ),
    )
    sse: S3SSEConfig = field(default_factory=S3SSEConfig)
    http: S3HTTPConfig = field(default_factory=S3HTTPConfig)


@dataclass
class GCSConfig:
    bucket_name: str = field(default="", metadata=setting("GCS bucket name"))
    service_account: str = field(
        default="",
        metadata=setting(
            "JSON either from a Google Developers Console client_credentials.json file, or "
            "a Google Developers service account key. Needs to be valid JSON, not a "
            "filesystem path. If empty, application default credentials are used.",
            secret=True,
        ),
    )


@dataclass
class AzureConfig:
    account_name: str = field(default="", metadata=setting("Azure storage account name"))
    account_key: str = field(
        default="",
        metadata=setting(
            "Azure storage account key. If unset, Azure managed identities will be used "
            "for authentication instead.",
            secret=True,
        ),
    )
    container_name: str = field(
        default="", metadata=setting("Azure storage container name")
    )
    endpoint_suffix: str = field(
        default="",
        metadata=setting(
            "Azure storage endpoint suffix without schema. The account name will be "
            "prefixed to this value to create the FQDN. If set to empty string, default "
            "endpoint suffix is used."
        ),
    )
    max_retries: int = field(
        default=20, metadata=setting("Number of retries for recoverable errors")
    )
    user_assigned_id: str = field(
        default="",
        metadata=setting(
            "User assigned managed identity. If empty, then System assigned identity is used."
        ),
    )


@dataclass
class FilesystemConfig:
    dir: str = field(
        default="",
        metadata=setting(
            "Local filesystem storage directory. Empty: <common.storage.path>/bucket."
        ),
    )


@dataclass
class BucketConfig:
    backend: str = field(
        default="filesystem",
        metadata=setting(
            "Backend storage to use. Supported backends are: filesystem, s3, gcs, azure, "
            "memory (memory is lost on restart; for tests).",
            choices=BACKENDS,
        ),
    )
    storage_prefix: str = field(
        default="",
        metadata=setting(
            "Prefix for all objects stored in the backend storage. For simplicity, it may "
            "only contain digits and English alphabet letters."
        ),
    )
    s3: S3Config = field(default_factory=S3Config)
    gcs: GCSConfig = field(default_factory=GCSConfig)
    azure: AzureConfig = field(default_factory=AzureConfig)
    filesystem: FilesystemConfig = field(default_factory=FilesystemConfig)

    def validate(self, flag_prefix: str = "blocks-storage.") -> None:
        """Raise ``InvalidBucketConfigError`` naming the flag of the first bad setting."""
        for path, why in self._problems():
            raise InvalidBucketConfigError(f"invalid -{flag_prefix}{path}: {why}")

    def _problems(self) -> Iterator[tuple[str, str]]:
        if self.backend not in BACKENDS:
            yield "backend", f"unsupported backend {self.backend!r} ({', '.join(BACKENDS)})"
        if self.storage_prefix and not _PREFIX_OK.match(self.storage_prefix):
            yield "storage-prefix", "may only contain digits and English alphabet letters"
        if self.backend == "s3":
            yield from _s3_problems(self.s3)
        elif self.backend == "gcs" and not self.gcs.bucket_name:
            yield "gcs.bucket-name", "must be set when the backend is gcs"
        elif self.backend == "azure":
            if not self.azure.account_name:
                yield "azure.account-name", "must be set when the backend is azure"
            if not self.azure.container_name:
                yield "azure.container-name", "must be set when the backend is azure"
            if self.azure.max_retries < 0:
                yield "azure.max-retries", "must not be negative"


def _s3_problems(s3: S3Config) -> Iterator[tuple[str, str]]:
    if not s3.bucket_name:
        yield "s3.bucket-name", "must be set when the backend is s3"
    host = s3.endpoint.split("://", 1)[-1]
    if host and s3.bucket_name and host.split(".")[0] == s3.bucket_name:
        yield "s3.endpoint", "the endpoint must not be prefixed with the bucket name"
    if s3.access_key_id and not s3.secret_access_key:
        yield "s3.secret-access-key", "must be set when the access key ID is set"
    if s3.secret_access_key and not s3.access_key_id:
        yield "s3.access-key-id", "must be set when the secret access key is set"
    if s3.bucket_lookup_type not in BUCKET_LOOKUP_TYPES:
        yield "s3.bucket-lookup-type", f"unsupported value {s3.bucket_lookup_type!r}"
    if s3.max_retries < 1:
        yield "s3.max-retries", "must be at least 1 (1 disables retries)"
    if s3.part_size < 0 or 0 < s3.part_size < 5 * 1024 * 1024:
        yield "s3.part-size", "must be 0 or at least 5 MiB (5242880)"
    if s3.sse.type not in SSE_TYPES:
        yield "s3.sse.type", f"unsupported S3 SSE type {s3.sse.type!r}"
    if s3.sse.type == "SSE-KMS" and not s3.sse.kms_key_id:
        yield "s3.sse.kms-key-id", "must be set when the SSE type is SSE-KMS"
    if s3.http.response_header_timeout <= 0:
        yield "s3.http.response-header-timeout", "must be positive"
