"""Bucket settings: Mimir's names and flags, validation naming the flag, and building
the cloud clients (GCS and Azure are only constructed here, never contacted)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tidewell.objstore import BucketConfig, InvalidBucketConfigError, new_bucket
from tidewell.objstore.config import S3Config
from tidewell.objstore.factory import s3_store_options
from tidewell.util.config_tree import iter_leaves


def test_flags_are_mimirs_when_nested_under_blocks_storage() -> None:
    leaves = {
        "blocks-storage." + leaf.flag: leaf for leaf in iter_leaves(BucketConfig)
    }
    for flag in (
        "blocks-storage.backend",
        "blocks-storage.storage-prefix",
        "blocks-storage.filesystem.dir",
        "blocks-storage.s3.endpoint",
        "blocks-storage.s3.bucket-name",
        "blocks-storage.s3.region",
        "blocks-storage.s3.access-key-id",
        "blocks-storage.s3.secret-access-key",
        "blocks-storage.s3.insecure",
        "blocks-storage.s3.bucket-lookup-type",
        "blocks-storage.s3.max-retries",
        "blocks-storage.s3.sse.type",
        "blocks-storage.s3.http.idle-conn-timeout",
        "blocks-storage.s3.http.response-header-timeout",
        "blocks-storage.gcs.bucket-name",
        "blocks-storage.gcs.service-account",
        "blocks-storage.azure.account-name",
        "blocks-storage.azure.account-key",
        "blocks-storage.azure.container-name",
        "blocks-storage.azure.endpoint-suffix",
    ):
        assert flag in leaves, flag
    assert leaves["blocks-storage.backend"].default == "filesystem"
    assert leaves["blocks-storage.s3.secret-access-key"].secret
    assert leaves["blocks-storage.gcs.service-account"].secret
    assert leaves["blocks-storage.azure.account-key"].secret
    assert leaves["blocks-storage.s3.http.response-header-timeout"].kind == "duration"


def test_defaults_validate() -> None:
    BucketConfig().validate()
    BucketConfig(backend="memory").validate()


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        (lambda c: setattr(c, "backend", "swift"), "-blocks-storage.backend"),
        (lambda c: setattr(c, "storage_prefix", "a/b"), "-blocks-storage.storage-prefix"),
        (lambda c: setattr(c, "backend", "s3"), "-blocks-storage.s3.bucket-name"),
        (lambda c: setattr(c, "backend", "gcs"), "-blocks-storage.gcs.bucket-name"),
        (lambda c: setattr(c, "backend", "azure"), "-blocks-storage.azure.account-name"),
    ],
)
def test_validation_names_the_flag(change, flag: str) -> None:
    cfg = BucketConfig()
    change(cfg)
    with pytest.raises(InvalidBucketConfigError, match=re.escape(flag)):
        cfg.validate()


def _s3(**kw: object) -> BucketConfig:
    cfg = BucketConfig(backend="s3")
    cfg.s3.bucket_name = "metrics"
    for k, v in kw.items():
        setattr(cfg.s3, k, v)
    return cfg


@pytest.mark.parametrize(
    ("kw", "flag"),
    [
        ({"access_key_id": "AK"}, "s3.secret-access-key"),
        ({"secret_access_key": "SK"}, "s3.access-key-id"),
        ({"endpoint": "metrics.s3.example.com"}, "s3.endpoint"),
        ({"max_retries": 0}, "s3.max-retries"),
        ({"part_size": 1024}, "s3.part-size"),
        ({"bucket_lookup_type": "sideways"}, "s3.bucket-lookup-type"),
    ],
)
def test_s3_validation(kw: dict[str, object], flag: str) -> None:
    with pytest.raises(InvalidBucketConfigError, match=re.escape(f"-blocks-storage.{flag}")):
        _s3(**kw).validate()


def test_s3_sse_kms_needs_key() -> None:
    cfg = _s3()
    cfg.s3.sse.type = "SSE-KMS"
    with pytest.raises(InvalidBucketConfigError, match=re.escape("s3.sse.kms-key-id")):
        cfg.validate()
    cfg.s3.sse.kms_key_id = "key-1"
    cfg.validate()
    assert s3_store_options(cfg.s3)["config"]["server_side_encryption"] == "aws:kms"


def test_validate_flag_prefix_is_adjustable() -> None:
    with pytest.raises(InvalidBucketConfigError, match=re.escape("-ruler-storage.s3.bucket-name")):
        BucketConfig(backend="s3").validate(flag_prefix="ruler-storage.")


def test_s3_options_follow_mimir_semantics() -> None:
    cfg = S3Config(bucket_name="b", endpoint="minio:9000", insecure=True, max_retries=3)
    cfg.http.response_header_timeout = 7.0
    opts = s3_store_options(cfg)
    assert opts["config"]["endpoint"] == "http://minio:9000"
    assert opts["config"]["region"] == "us-east-1"
    assert "virtual_hosted_style_request" not in opts["config"]  # path style for custom host
    assert opts["client_options"]["allow_http"] is True
    assert opts["client_options"]["timeout"].total_seconds() == 7.0
    assert opts["retry_config"]["max_retries"] == 2  # Mimir counts attempts
    aws = s3_store_options(S3Config(bucket_name="b", max_retries=1))
    assert "endpoint" not in aws["config"]
    assert aws["config"]["virtual_hosted_style_request"] is True
    assert aws["retry_config"]["max_retries"] == 0
    assert aws["client_options"]["allow_http"] is False


def _service_account_json() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "p",
            "private_key_id": "k1",
            "private_key": pem,
            "client_email": "tidewell@p.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


def test_gcs_bucket_is_built_from_config(tmp_path: Path) -> None:
    cfg = BucketConfig(backend="gcs")
    cfg.gcs.bucket_name = "metrics"
    cfg.gcs.service_account = _service_account_json()
    bucket = new_bucket(cfg, tmp_path)
    assert bucket.name == "gcs:metrics"


def test_gcs_bad_service_account_names_the_flag(tmp_path: Path) -> None:
    cfg = BucketConfig(backend="gcs")
    cfg.gcs.bucket_name = "metrics"
    cfg.gcs.service_account = "{not json"
    flag = re.escape("-blocks-storage.gcs.service-account")
    with pytest.raises(InvalidBucketConfigError, match=flag):
        new_bucket(cfg, tmp_path)


def test_azure_bucket_is_built_from_config(tmp_path: Path) -> None:
    cfg = BucketConfig(backend="azure")
    cfg.azure.account_name = "acct"
    cfg.azure.container_name = "blocks"
    cfg.azure.account_key = "c2VjcmV0LWtleQ=="
    cfg.azure.endpoint_suffix = "blob.core.chinacloudapi.cn"
    bucket = new_bucket(cfg, tmp_path)
    assert bucket.name == "azure:acct/blocks"


def test_azure_bad_key_names_the_flag(tmp_path: Path) -> None:
    cfg = BucketConfig(backend="azure")
    cfg.azure.account_name = "acct"
    cfg.azure.container_name = "blocks"
    cfg.azure.account_key = "not base64 !!"
    flag = re.escape("-blocks-storage.azure.account-key")
    with pytest.raises(InvalidBucketConfigError, match=flag):
        new_bucket(cfg, tmp_path)


def test_yaml_as_mimir_users_write_it() -> None:
    """The ``blocks_storage`` YAML of a Mimir config loads onto ``BucketConfig``."""
    import dataclasses

    import yaml

    from tidewell.util.config_tree import apply_yaml, to_nested_dict

    @dataclasses.dataclass
    class Root:
        blocks_storage: BucketConfig = dataclasses.field(default_factory=BucketConfig)

    text = """
blocks_storage:
  backend: s3
  s3:
    endpoint: minio.svc:9000
    bucket_name: mimir-blocks
    access_key_id: admin
    secret_access_key: supersecret
    insecure: true
    http:
      response_header_timeout: 30s
"""
    root = Root()
    apply_yaml(root, yaml.safe_load(text))
    cfg = root.blocks_storage
    cfg.validate()
    assert cfg.s3.http.response_header_timeout == 30.0
    assert cfg.s3.insecure is True
    shown = to_nested_dict(root)["blocks_storage"]["s3"]
    assert shown["secret_access_key"] != "supersecret"  # masked on /config
    assert shown["bucket_name"] == "mimir-blocks"
