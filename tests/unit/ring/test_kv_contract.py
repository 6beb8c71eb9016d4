"""The KV contract against the in-memory KV, bare and behind a key prefix."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from tidewell.ring import KV, InMemoryKV, KVConfig, PrefixedKV, new_kv
from tidewell.ring.testing import KVContractTests


class TestInMemoryKV(KVContractTests):
    @contextlib.asynccontextmanager
    async def open_kv(self) -> AsyncIterator[KV]:
        yield new_kv(KVConfig(store="inmemory"))


class TestPrefixedInMemoryKV(KVContractTests):
    @contextlib.asynccontextmanager
    async def open_kv(self) -> AsyncIterator[KV]:
        inner = InMemoryKV()
        yield PrefixedKV(inner, "collectors/")
        # Everything written through the prefix landed under it.
        assert all(k.startswith("collectors/") for k in inner.stored_keys())
