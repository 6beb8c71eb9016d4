"""Tenant IDs as Mimir validates them: they become object-storage prefixes."""

from __future__ import annotations

MAX_TENANT_ID_LENGTH = 150
_ALLOWED_PUNCTUATION = frozenset("!-_.*'()")
RESERVED_TENANT_IDS = frozenset({"__mimir_cluster"})
"""Names Mimir keeps for itself in the bucket (``__mimir_cluster/`` holds cluster data)."""


class InvalidTenantIDError(ValueError):
    """The tenant ID breaks one of Mimir's rules; the message says which."""


def validate_tenant_id(tenant: str) -> str:
    """Return ``tenant`` unchanged if valid, else raise ``InvalidTenantIDError``."""
    if not tenant:
        raise InvalidTenantIDError("tenant ID is empty")
    if len(tenant.encode()) > MAX_TENANT_ID_LENGTH:
        raise InvalidTenantIDError(f"tenant ID is too long: max {MAX_TENANT_ID_LENGTH} characters")
    if tenant in (".", ".."):
        raise InvalidTenantIDError('tenant ID is "." or ".."')
    if tenant in RESERVED_TENANT_IDS:
        raise InvalidTenantIDError(f'tenant ID "{tenant}" is reserved for internal use')
    for ch in tenant:
        if not (ch.isascii() and (ch.isalnum() or ch in _ALLOWED_PUNCTUATION)):
            raise InvalidTenantIDError(f"tenant ID contains unsupported character '{ch}'")
    return tenant
