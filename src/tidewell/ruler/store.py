"""Where rule groups live: object storage in Mimir's layout, or a local directory.

Bucket layout (Mimir's ``rulestore/bucketclient``): one object per group at
``rules/<tenant>/<base64url(namespace)>/<base64url(group name)>``, so any
namespace or group name is a safe key. The object holds the group as Mimir's
protobuf ``RuleGroupDesc`` (``groupdesc``): same paths, same bytes, so Mimir's
ruler and ours can share a bucket. The ``local`` backend reads rule files from
``<directory>/<tenant>/<namespace>`` and cannot be written, as in Mimir.

Methods are synchronous (the bucket is); async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import abc
import base64
import binascii
import logging
from pathlib import Path

from tidewell.model.errors import TidewellError
from tidewell.objstore.bucket import Bucket, join_key
from tidewell.objstore.errors import ObjectNotFoundError
from tidewell.ruler.groupdesc import GroupDecodeError, decode_group, encode_group
from tidewell.ruler.rulefmt import RuleFormatError, RuleGroup, parse_groups

__all__ = ["BucketRuleStore", "LocalRuleStore", "ReadOnlyStoreError", "RuleStore",
           "decode_name", "encode_name"]

log = logging.getLogger("tidewell.ruler")

RULES_PREFIX = "rules"


class ReadOnlyStoreError(TidewellError):
    """The configured store (``local``) cannot be changed through the API."""


def encode_name(name: str) -> str:
    """Go's ``base64.URLEncoding`` (padded) of a namespace or group name."""
    return base64.urlsafe_b64encode(name.encode()).decode()


def decode_name(encoded: str) -> str:
    return base64.urlsafe_b64decode(encoded.encode()).decode()


class RuleStore(abc.ABC):
    """Rule groups per tenant and namespace."""

    read_only = False

    @abc.abstractmethod
    def list_tenants(self) -> list[str]:
        """Tenants with at least one rule group."""

    @abc.abstractmethod
    def list_groups(self, tenant: str) -> dict[str, list[RuleGroup]]:
        """``namespace → groups``, namespaces and groups sorted by name."""

    def get_group(self, tenant: str, namespace: str, name: str) -> RuleGroup | None:
        return next((g for g in self.list_groups(tenant).get(namespace, []) if g.name == name),
                    None)

    def set_group(self, tenant: str, namespace: str, group: RuleGroup) -> None:
        raise ReadOnlyStoreError("the local rule store is read-only")

    def delete_group(self, tenant: str, namespace: str, name: str) -> bool:
        raise ReadOnlyStoreError("the local rule store is read-only")

    def delete_namespace(self, tenant: str, namespace: str) -> int:
        raise ReadOnlyStoreError("the local rule store is read-only")


class BucketRuleStore(RuleStore):
    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def _key(self, tenant: str, namespace: str, name: str) -> str:
        return join_key(RULES_PREFIX, tenant, encode_name(namespace), encode_name(name))

    def list_tenants(self) -> list[str]:
        return sorted(p.rstrip("/").rsplit("/", 1)[-1]
                      for p in self.bucket.list_dir(RULES_PREFIX).prefixes)

    def list_groups(self, tenant: str) -> dict[str, list[RuleGroup]]:
        out: dict[str, list[RuleGroup]] = {}
        for obj in self.bucket.iter_prefix(join_key(RULES_PREFIX, tenant)):
            parts = obj.key.split("/")
            try:
                namespace = decode_name(parts[-2])
                name = decode_name(parts[-1])
            except (binascii.Error, UnicodeDecodeError, IndexError):
                log.warning("ignoring object that is not a rule group",
                            extra={"fields": {"key": obj.key}})
                continue
            group = self._load(obj.key, name)
            if group is not None:
                out.setdefault(namespace, []).append(group)
        return {ns: sorted(gs, key=lambda g: g.name) for ns, gs in sorted(out.items())}

    def _load(self, key: str, name: str) -> RuleGroup | None:
        try:
            data = self.bucket.get(key)
        except ObjectNotFoundError:
            return None  # deleted between listing and reading
        try:
            return decode_group(data)[2]
        except GroupDecodeError as exc:
            log.error("stored rule group cannot be parsed",
                      extra={"fields": {"key": key, "group": name, "err": str(exc)}})
            return None

    def get_group(self, tenant: str, namespace: str, name: str) -> RuleGroup | None:
        return self._load(self._key(tenant, namespace, name), name)

    def set_group(self, tenant: str, namespace: str, group: RuleGroup) -> None:
        self.bucket.put(self._key(tenant, namespace, group.name),
                        encode_group(tenant, namespace, group))

    def delete_group(self, tenant: str, namespace: str, name: str) -> bool:
        key = self._key(tenant, namespace, name)
        if not self.bucket.exists(key):
            return False
        self.bucket.delete(key)
        return True

    def delete_namespace(self, tenant: str, namespace: str) -> int:
        return self.bucket.delete_prefix(join_key(RULES_PREFIX, tenant, encode_name(namespace)))


class LocalRuleStore(RuleStore):
    """Rule files under ``<directory>/<tenant>/``, one namespace per file (read-only)."""

    read_only = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def list_tenants(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if p.is_dir())

    def list_groups(self, tenant: str) -> dict[str, list[RuleGroup]]:
        out: dict[str, list[RuleGroup]] = {}
        tenant_dir = self.directory / tenant
        if not tenant_dir.is_dir():
            return out
        for path in sorted(tenant_dir.iterdir()):
            if not path.is_file():
                continue
            try:
                groups = parse_groups(path.read_bytes(), scheme="utf8")
            except RuleFormatError as exc:
                log.error("rule file cannot be loaded",
                          extra={"fields": {"file": str(path), "err": str(exc)}})
                continue
            out[path.name] = sorted(groups, key=lambda g: g.name)
        return out
