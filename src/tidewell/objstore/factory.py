"""Build the configured bucket: backend, then ``storage_prefix``, then metrics.

``obstore`` (a Rust extension, ~4 MiB resident) is imported only by the backends that
use it: the default filesystem bucket does without.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from tidewell.objstore.bucket import Bucket
from tidewell.objstore.config import AzureConfig, BucketConfig, GCSConfig, S3Config
from tidewell.objstore.errors import InvalidBucketConfigError
from tidewell.objstore.filesystem import FilesystemBucket
from tidewell.objstore.instrumented import InstrumentedBucket
from tidewell.objstore.prefixed import PrefixedBucket

__all__ = ["new_bucket", "s3_store_options"]

log = logging.getLogger("tidewell.objstore")

_SSE = {"SSE-S3": "AES256", "SSE-KMS": "aws:kms"}


def s3_store_options(cfg: S3Config) -> dict[str, Any]:
    """Keyword arguments for ``obstore.store.S3Store`` from Mimir-shaped settings."""
    endpoint = cfg.endpoint
    if endpoint and "://" not in endpoint:
        endpoint = ("http://" if cfg.insecure else "https://") + endpoint
    config: dict[str, Any] = {"region": cfg.region or "us-east-1"}
    if endpoint:
        config["endpoint"] = endpoint
    if cfg.access_key_id:
        config["access_key_id"] = cfg.access_key_id
        config["secret_access_key"] = cfg.secret_access_key
    if cfg.session_token:
        config["session_token"] = cfg.session_token
    if cfg.bucket_lookup_type == "virtual-hosted" or (
        cfg.bucket_lookup_type == "auto" and not endpoint
    ):
        config["virtual_hosted_style_request"] = True
    if cfg.sse.type:
        config["server_side_encryption"] = _SSE[cfg.sse.type]
        if cfg.sse.kms_key_id:
            config["sse_kms_key_id"] = cfg.sse.kms_key_id
    timeout = cfg.http.response_header_timeout
    client_options: dict[str, Any] = {
        "allow_http": cfg.insecure or endpoint.startswith("http://"),
        "allow_invalid_certificates": cfg.http.insecure_skip_verify,
        "timeout": timedelta(seconds=timeout),
        "connect_timeout": timedelta(seconds=min(10.0, timeout)),
        "pool_idle_timeout": timedelta(seconds=cfg.http.idle_conn_timeout),
    }
    retries = max(0, cfg.max_retries - 1)
    retry_config: dict[str, Any] = {
        "max_retries": retries,
        "backoff": {
            "init_backoff": timedelta(milliseconds=100),
            "max_backoff": timedelta(seconds=15),
            "base": 2,
        },
        # Bound the whole operation: every attempt may take the full timeout.
        "retry_timeout": timedelta(seconds=min(180.0, timeout * (retries + 1))),
    }
    return {"config": config, "client_options": client_options, "retry_config": retry_config}


def _s3(cfg: S3Config) -> Bucket:
    from obstore.store import S3Store

    from tidewell.objstore.obstore_bucket import ObstoreBucket

    store = S3Store(cfg.bucket_name, **s3_store_options(cfg))
    part = cfg.part_size or 5 * 1024 * 1024
    return ObstoreBucket(store, f"s3:{cfg.bucket_name}", part_size=part)


def _gcs(cfg: GCSConfig) -> Bucket:
    from obstore.store import GCSStore

    from tidewell.objstore.obstore_bucket import ObstoreBucket

    config: dict[str, Any] = {}
    if cfg.service_account:
        config["service_account_key"] = cfg.service_account
    store = GCSStore(cfg.bucket_name, config=config)
    return ObstoreBucket(store, f"gcs:{cfg.bucket_name}")


def _azure(cfg: AzureConfig) -> Bucket:
    from obstore.store import AzureStore

    from tidewell.objstore.obstore_bucket import ObstoreBucket

    config: dict[str, Any] = {"account_name": cfg.account_name}
    if cfg.account_key:
        config["account_key"] = cfg.account_key
    if cfg.user_assigned_id:
        config["client_id"] = cfg.user_assigned_id
    if cfg.endpoint_suffix:
        config["endpoint"] = f"https://{cfg.account_name}.{cfg.endpoint_suffix}"
    store = AzureStore(
        cfg.container_name, config=config, retry_config={"max_retries": cfg.max_retries}
    )
    return ObstoreBucket(store, f"azure:{cfg.account_name}/{cfg.container_name}")


_CLOUD: dict[str, tuple[Callable[[Any], Bucket], str]] = {
    "s3": (_s3, "s3.secret-access-key"),
    "gcs": (_gcs, "gcs.service-account"),
    "azure": (_azure, "azure.account-key"),
}


def new_bucket(
    config: BucketConfig, default_dir: Path, *, component: str | None = None
) -> Bucket:
    """The bucket ``config`` describes.

    ``default_dir`` is the filesystem root when ``filesystem.dir`` is empty (the
    lead passes ``<common.storage.path>/bucket``). With ``component`` the bucket
    reports ``thanos_objstore_bucket_*{component=...}`` metrics.
    """
    config.validate()
    backend = config.backend
    bucket: Bucket
    if backend == "filesystem":
        bucket = FilesystemBucket(Path(config.filesystem.dir or default_dir))
    elif backend == "memory":
        from obstore.store import MemoryStore

        from tidewell.objstore.obstore_bucket import ObstoreBucket

        bucket = ObstoreBucket(MemoryStore(), "memory")
    else:
        from obstore import exceptions as obx

        from tidewell.objstore.obstore_bucket import first_line

        build, credential_flag = _CLOUD[backend]
        try:
            bucket = build(getattr(config, backend))
        except obx.BaseError as exc:
            # Only credentials are parsed before the first request (bad JSON, bad key).
            raise InvalidBucketConfigError(
                f"invalid -blocks-storage.{credential_flag}: {first_line(exc)}"
            ) from None
    if config.storage_prefix:
        bucket = PrefixedBucket(bucket, config.storage_prefix, owns_inner=True)
    if component:
        bucket = InstrumentedBucket(bucket, component)
    log.debug("bucket ready: %s", bucket.name)
    return bucket
