"""``new_kv``: the KV backend a ring's ``kvstore`` block asks for."""

from __future__ import annotations

from tidewell.ring.config import KV_STORES, KVConfig
from tidewell.ring.etcd import EtcdKV
from tidewell.ring.kv import KV, InMemoryKV, PrefixedKV
from tidewell.util.services import Supervisor

__all__ = ["close_kv", "kv_supervisors", "new_kv"]


def new_kv(config: KVConfig, *, name: str = "") -> KV:
    """A KV client for ``config.store``; etcd keys live under ``config.prefix``.

    ``inmemory`` returns a fresh store private to this process (no prefix is
    needed: nobody else can see it), so one process's rings must share the
    instance they were given rather than each calling ``new_kv``.
    """
    if config.store == "inmemory":
        return InMemoryKV()
    if config.store == "etcd":
        return PrefixedKV(EtcdKV(config.etcd, kv_name=name), config.prefix)
    raise ValueError(f"unknown KV store {config.store!r}: expected one of {', '.join(KV_STORES)}")


async def close_kv(kv: KV) -> None:
    """Stop a KV's watches and connections, if it has any."""
    close = getattr(kv, "close", None)
    if close is not None:
        await close()


def kv_supervisors(kv: KV) -> list[Supervisor]:
    """The background loops of a KV client (etcd's watches), for its module to own."""
    inner = kv.kv if isinstance(kv, PrefixedKV) else kv
    sup = getattr(inner, "supervisor", None)
    return [sup] if isinstance(sup, Supervisor) else []
