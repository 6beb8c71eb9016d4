"""Check 3: blocks keep reaching the bucket, and each tenant's bucket index knows them.

Ingesters cut a block once their head spans 1.5 block ranges and ship it within a
ship interval, so a tenant that is being written has a block ending less than
about 1.5 block ranges ago; "newest block older than the block range plus a
grace" means shipping stopped. The default grace (2h, so 4h with Mimir's 2h
range) is where Mimir's ``MimirIngesterHasNotShippedBlocks`` alert fires.
The bucket index is what queriers and store-gateways read instead of listing
the bucket: it must exist where blocks exist and list every block uploaded
more than ``index_grace`` ago, or those blocks are invisible to queries.
"""

from __future__ import annotations

import time

from tidewell.model.tenant import InvalidTenantIDError, validate_tenant_id
from tidewell.objstore import Bucket
from tidewell.objstore.bucketindex import (
    BucketIndex,
    BucketIndexCorruptedError,
    BucketIndexNotFoundError,
    build_bucket_index,
    read_bucket_index,
)
from tidewell.tool.verify.report import CheckResult, Status
from tidewell.util.config_fields import format_duration

__all__ = ["check_blocks", "list_tenants"]


def list_tenants(bucket: Bucket) -> list[str]:
    """Top-level directories of the bucket that are valid tenant IDs."""
    out = []
    for prefix in bucket.list_dir("").prefixes:
        name = prefix.rstrip("/")
        try:
            validate_tenant_id(name)
        except InvalidTenantIDError:
            continue
        out.append(name)
    return sorted(out)


def _ago(seconds: float) -> str:
    return format_duration(max(0.0, round(seconds)))


def check_tenant(bucket: Bucket, tenant: str, block_range_s: float, grace_s: float,
                 index_grace_s: float, now: float) -> list[CheckResult]:
    """The ``blocks`` and ``bucket-index`` lines of one tenant."""
    subject = f"tenant {tenant}"
    stored: BucketIndex | None
    index_problem = ""
    try:
        stored = read_bucket_index(bucket, tenant)
    except BucketIndexNotFoundError:
        stored, index_problem = None, "no bucket-index.json.gz"
    except BucketIndexCorruptedError as exc:
        stored, index_problem = None, f"bucket index unreadable: {exc}"
    actual, _partials = build_bucket_index(bucket, tenant, stored, now=now)
    out: list[CheckResult] = []
    limit = block_range_s + grace_s
    limit_text = f"{format_duration(block_range_s)} block range + {format_duration(grace_s)} grace"
    if not actual.blocks:
        out.append(CheckResult("blocks", subject, Status.WARN,
                               "no complete block in the bucket yet (a new tenant ships its "
                               "first block one to two block ranges after its first sample)"))
    else:
        newest = max(actual.blocks, key=lambda b: (b.max_time, b.block_id))
        age = now - newest.max_time / 1000.0
        what = (f"newest block {newest.block_id} ends {_ago(age)} ago "
                f"({len(actual.blocks)} blocks)")
        if age > limit:
            out.append(CheckResult("blocks", subject, Status.FAIL,
                                   f"{what}, more than {limit_text}: ingesters stopped shipping "
                                   "(see cortex_ingester_shipper_uploads_total and the "
                                   "ingesters' logs)"))
        else:
            out.append(CheckResult("blocks", subject, Status.PASS,
                                   f"{what}, within {limit_text}"))
    if stored is None:
        if actual.blocks:
            out.append(CheckResult("bucket-index", subject, Status.FAIL,
                                   f"{index_problem} while {len(actual.blocks)} blocks exist: "
                                   "queries do not see them"))
        return out
    known = {b.block_id for b in stored.blocks}
    missing = [b for b in actual.blocks if b.block_id not in known
               and now - b.uploaded_at > index_grace_s]
    updated = f"updated {_ago(now - stored.updated_at)} ago"
    if missing:
        oldest = min(missing, key=lambda b: b.uploaded_at)
        out.append(CheckResult("bucket-index", subject, Status.FAIL,
                               f"{updated}, misses {len(missing)} blocks uploaded more than "
                               f"{format_duration(index_grace_s)} ago (oldest "
                               f"{oldest.block_id}, uploaded {_ago(now - oldest.uploaded_at)} "
                               "ago): queries do not see them"))
    else:
        out.append(CheckResult("bucket-index", subject, Status.PASS,
                               f"{updated}, lists all {len(stored.blocks)} blocks"))
    return out


def check_blocks(bucket: Bucket, block_range_s: float, grace_s: float,
                 index_grace_s: float, now: float | None = None) -> list[CheckResult]:
    """Lines for every tenant in the bucket (blocking: run it in a thread)."""
    now = time.time() if now is None else now
    try:
        tenants = list_tenants(bucket)
    except Exception as exc:  # any backend error: the report names it, verify goes on
        return [CheckResult("blocks", "bucket", Status.FAIL,
                            f"cannot list the bucket: {type(exc).__name__}: {exc}")]
    if not tenants:
        return [CheckResult("blocks", "bucket", Status.WARN,
                            "no tenant has blocks in the bucket yet")]
    out: list[CheckResult] = []
    for tenant in tenants:
        try:
            out += check_tenant(bucket, tenant, block_range_s, grace_s, index_grace_s, now)
        except Exception as exc:  # one unreadable tenant must not hide the others
            out.append(CheckResult("blocks", f"tenant {tenant}", Status.FAIL,
                                   f"cannot read its blocks: {type(exc).__name__}: {exc}"))
    return out
