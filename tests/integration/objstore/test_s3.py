"""The S3 backend against moto's S3 server on loopback: the full bucket contract,
then what callers see when the server is down, hangs, or the bucket is missing."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tidewell.objstore import (
    BucketConfig,
    BucketError,
    BucketUnavailableError,
    ObjectNotFoundError,
    new_bucket,
)
from tidewell.objstore.bucket import Bucket
from tidewell.objstore.testing import BucketContract


def s3_config(endpoint: str, bucket_name: str, *, timeout: float = 5.0) -> BucketConfig:
    """Settings as a user writes them for a local S3-compatible server."""
    cfg = BucketConfig(backend="s3")
    cfg.s3.endpoint = endpoint
    cfg.s3.insecure = True
    cfg.s3.bucket_name = bucket_name
    cfg.s3.region = "us-east-1"
    cfg.s3.access_key_id = "tidewell-test"
    cfg.s3.secret_access_key = "tidewell-test-secret"
    # Keep failure tests short: 2 attempts, a few seconds per request.
    cfg.s3.max_retries = 2
    cfg.s3.http.response_header_timeout = timeout
    return cfg

pytestmark = pytest.mark.timeout(60)


class TestS3Bucket(BucketContract):
    @pytest.fixture
    def bucket(self, moto_s3, s3_bucket_name: str, tmp_path: Path) -> Bucket:
        return new_bucket(s3_config(moto_s3.endpoint, s3_bucket_name), tmp_path)


class TestS3TenantView(BucketContract):
    @pytest.fixture
    def bucket(self, moto_s3, s3_bucket_name: str, tmp_path: Path) -> Bucket:
        cfg = s3_config(moto_s3.endpoint, s3_bucket_name)
        cfg.storage_prefix = "prefix1"
        return new_bucket(cfg, tmp_path, component="s3-contract")


def test_objects_land_under_plain_keys(moto_s3, s3_bucket_name: str, tmp_path: Path) -> None:
    """What we write is what another S3 client (boto3) sees, and the other way round."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=f"http://{moto_s3.endpoint}",
        region_name="us-east-1",
        aws_access_key_id="other",
        aws_secret_access_key="other",
    )
    bucket = new_bucket(s3_config(moto_s3.endpoint, s3_bucket_name), tmp_path)
    bucket.put("tenant/01HXYZ/meta.json", b'{"version": 1}')
    got = client.get_object(Bucket=s3_bucket_name, Key="tenant/01HXYZ/meta.json")
    assert got["Body"].read() == b'{"version": 1}'
    client.put_object(Bucket=s3_bucket_name, Key="tenant/01HXYZ/index", Body=b"idx")
    assert bucket.get("tenant/01HXYZ/index") == b"idx"
    assert bucket.list_dir("tenant/01HXYZ").objects[0].key == "tenant/01HXYZ/index"


def test_missing_bucket_is_not_object_not_found(moto_s3, tmp_path: Path) -> None:
    bucket = new_bucket(s3_config(moto_s3.endpoint, "no-such-bucket-here"), tmp_path)
    with pytest.raises(BucketError) as info:
        bucket.get("k")
    assert not isinstance(info.value, ObjectNotFoundError)
    assert "does not exist" in str(info.value)


def test_server_down_fails_fast_then_recovers(moto_factory, tmp_path: Path) -> None:
    """Stopped server: a named error within seconds; data is back when the server is."""
    s3 = moto_factory(0)
    s3.create_bucket("down-test")
    bucket = new_bucket(s3_config(s3.endpoint, "down-test"), tmp_path, component="s3-down")
    bucket.put("t/blk/meta.json", b"safe")
    s3.server.stop()
    for op in (
        lambda: bucket.get("t/blk/meta.json"),
        lambda: bucket.put("t/blk/index", b"x"),
        lambda: bucket.list_dir("t"),
        lambda: list(bucket.iter_prefix("t")),
        lambda: bucket.get_range("t/blk/meta.json", 0, 2),
        lambda: bucket.attributes("t/blk/meta.json"),
    ):
        start = time.monotonic()
        with pytest.raises(BucketUnavailableError) as info:
            op()
        assert time.monotonic() - start < 10
        assert "down-test" in str(info.value)
    fails = "thanos_objstore_bucket_operation_failures_total"
    for op in ("get", "upload", "iter", "get_range", "attributes"):
        labels = {"component": "s3-down", "operation": op}
        assert REGISTRY.get_sample_value(fails, labels) >= 1, op
    # moto keeps its state in-process: once the server is back, so is the object.
    moto_factory(s3.port)
    assert bucket.get("t/blk/meta.json") == b"safe"


def test_hung_server_times_out(tmp_path: Path) -> None:
    """A server that accepts connections but never answers: bounded by the timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # the kernel completes handshakes; nobody ever reads
        port = listener.getsockname()[1]
        cfg = s3_config(f"127.0.0.1:{port}", "hung", timeout=1.0)
        bucket = new_bucket(cfg, tmp_path)
        start = time.monotonic()
        with pytest.raises(BucketUnavailableError):
            bucket.get("k")
        elapsed = time.monotonic() - start
    # 2 attempts of 1 s each plus backoff; far below the 2 min default.
    assert 0.9 < elapsed < 8, elapsed


def test_config_defaults_build_a_client_without_network(tmp_path: Path) -> None:
    cfg = BucketConfig(backend="s3")
    cfg.s3.bucket_name = "b"
    bucket = new_bucket(cfg, tmp_path)  # AWS endpoint, nothing contacted yet
    assert bucket.name == "s3:b"
