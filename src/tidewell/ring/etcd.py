"""The ring KV over a real etcd v3 server, through etcd's gRPC-gateway JSON API.

We speak HTTP/JSON to ``/v3/kv/range``, ``/v3/kv/txn``, ``/v3/kv/deleterange``
and the streaming ``/v3/watch`` with ``httpx`` rather than using the ``etcd3``
package: that package is unmaintained since 2020 and breaks with current
protobuf, while the gateway ships with every etcd 3.4+ and needs nothing else.
Keys and values travel base64-encoded; values are ring descriptors serialised
by ``tidewell.ring.codec`` (JSON).

Compare-and-swap is a transaction comparing the key's ``mod_revision`` with the
one we read (0 for a missing key), retried up to ``max_retries`` times on
conflict. A watch is a background loop that reads the key, then streams
changes from the next revision; when etcd goes away (restart, network) it
reconnects with exponential backoff and re-reads the key, so callers see the
latest value without doing anything. A watch idle for ``watch_idle_timeout``
is re-created the same way, so a silently dead connection cannot hide changes
for longer than that. A value that does not decode is logged and skipped (as
dskit's etcd client does). Watches run under the client's ``supervisor``:
anything else that ends one (a bug, a callback raising) fails the module that
owns the KV, so a ring never silently stops following etcd.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from tidewell.model.errors import TidewellError
from tidewell.ring.codec import decode_value, encode_value
from tidewell.ring.config import EtcdConfig
from tidewell.ring.kv import CASCallback, CASError, WatchCallback
from tidewell.ring.metrics import KV_REQUEST_DURATION
from tidewell.util.services import Supervisor

__all__ = ["EtcdError", "EtcdKV", "EtcdUnavailableError", "WatchCallbackError"]

log = logging.getLogger("tidewell.ring.etcd")


class EtcdError(TidewellError):
    """etcd answered with an error."""


class EtcdUnavailableError(EtcdError, ConnectionError):
    """No etcd endpoint answered within the retries."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def _endpoint_url(endpoint: str) -> str:
    endpoint = endpoint.strip().rstrip("/")
    return endpoint if "://" in endpoint else f"http://{endpoint}"


class WatchCallbackError(TidewellError):
    """A watcher's callback raised: a bug of its ring, never retried as a reconnect."""


class _Restart(TidewellError):
    """The watch must be re-created from a fresh read (compaction, cancel by server)."""


class EtcdKV:
    """``KV`` backed by etcd; one instance can serve several rings (keys)."""

    def __init__(
        self,
        config: EtcdConfig,
        *,
        kv_name: str = "",
        watch_backoff_min: float = 0.05,
        watch_backoff_max: float = 2.0,
        watch_idle_timeout: float = 60.0,
    ) -> None:
        if not config.endpoints:
            raise ValueError("etcd KV store needs at least one endpoint (-<ring>.etcd.endpoints)")
        self.config = config
        self.kv_name = kv_name
        self._urls = [_endpoint_url(e) for e in config.endpoints]
        self._next = 0
        self._backoff_min = watch_backoff_min
        self._backoff_max = watch_backoff_max
        self._idle_timeout = watch_idle_timeout
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._token: str | None = None
        self.supervisor = Supervisor(f"{kv_name or 'ring'}-kv")
        """The watch loops: one ending unexpectedly fails the module owning this client."""
        self._watch_ids = 0

    # -- transport ---------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            # A client's connections belong to one event loop.
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.config.dial_timeout), trust_env=False
            )
            self._client_loop = loop
            self._token = None
        return self._client

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self._token} if self._token else {}

    async def _authenticate(self, url: str) -> None:
        resp = await self._http().post(
            f"{url}/v3/auth/authenticate",
            json={"name": self.config.username, "password": self.config.password},
        )
        if resp.status_code != 200:
            raise EtcdError(f"etcd authentication failed: {resp.text.strip()}")
        self._token = resp.json()["token"]

    async def _post(self, path: str, body: dict[str, Any], operation: str) -> dict[str, Any]:
        """POST to one endpoint after another until one answers, with backoff.

        Connection failures and 5xx answers are retried (on the next endpoint);
        any other error status is raised at once.
        """
        attempts = max(1, self.config.max_retries)
        delay = 0.05
        last: Exception | None = None
        start = time.perf_counter()
        status = "unavailable"
        try:
            for attempt in range(attempts):
                url = self._urls[self._next % len(self._urls)]
                try:
                    if self.config.username and self._token is None:
                        await self._authenticate(url)
                    resp = await self._http().post(
                        f"{url}{path}", json=body, headers=self._headers()
                    )
                except httpx.TransportError as exc:
                    last = exc
                else:
                    status = str(resp.status_code)
                    if resp.status_code == 200:
                        return resp.json()
                    if resp.status_code == 401 and self.config.username:
                        self._token = None  # token expired: authenticate again
                    elif resp.status_code < 500:
                        raise EtcdError(f"etcd {path}: {resp.status_code} {resp.text.strip()}")
                    last = EtcdError(f"etcd {path}: {resp.status_code} {resp.text.strip()}")
                self._next += 1
                if attempt + 1 < attempts:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.5)
            raise EtcdUnavailableError(f"etcd {path} failed after {attempts} attempts: {last}")
        finally:
            KV_REQUEST_DURATION.labels(operation, status, self.kv_name).observe(
                time.perf_counter() - start
            )

    async def _range(self, key: str) -> tuple[int, bytes | None, int]:
        """(header revision, encoded value or None, mod_revision or 0)."""
        doc = await self._post("/v3/kv/range", {"key": _b64(key.encode())}, "GET")
        header_rev = int(doc.get("header", {}).get("revision", 0))
        kvs = doc.get("kvs") or []
        if not kvs:
            return header_rev, None, 0
        kv = kvs[0]
        return header_rev, _unb64(kv.get("value", "")), int(kv["mod_revision"])

    # -- KV protocol -------------------------------------------------------

    async def get(self, key: str) -> Any | None:
        raw = (await self._range(key))[1]
        return None if raw is None else decode_value(raw)

    async def cas(self, key: str, f: CASCallback) -> None:
        bkey = _b64(key.encode())
        for _ in range(max(1, self.config.max_retries)):
            _, raw, mod_rev = await self._range(key)
            current = None if raw is None else decode_value(raw)
            new, _retry = f(current)
            if new is None:
                return
            doc = await self._post(
                "/v3/kv/txn",
                {
                    "compare": [
                        {
                            "key": bkey,
                            "target": "MOD",
                            "result": "EQUAL",
                            "mod_revision": str(mod_rev),
                        }
                    ],
                    "success": [{"request_put": {"key": bkey, "value": _b64(encode_value(new))}}],
                },
                "CAS",
            )
            if doc.get("succeeded"):
                return
            log.debug("etcd CAS conflict, retrying key=%s", key)
        raise CASError(f"too many conflicts updating {key!r} in etcd")

    async def delete(self, key: str) -> None:
        await self._post("/v3/kv/deleterange", {"key": _b64(key.encode())}, "DELETE")

    def watch_key(self, key: str, callback: WatchCallback) -> Callable[[], None]:
        self._watch_ids += 1
        return self.supervisor.spawn(f"watch-{key}-{self._watch_ids}",
                                     lambda: self._watch_loop(key, callback))

    async def close(self) -> None:
        """Stop all watches and close connections."""
        await self.supervisor.stop()
        if self._client is not None and self._client_loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None

    # -- watch -------------------------------------------------------------

    async def _watch_loop(self, key: str, callback: WatchCallback) -> None:
        delivered: int | None = None  # mod_revision of the value last delivered, 0 = absent
        backoff = self._backoff_min

        def deliver(raw: bytes | None, mod_rev: int) -> None:
            nonlocal delivered
            delivered = mod_rev
            try:
                value = None if raw is None else decode_value(raw)
            except Exception as exc:  # someone else's bytes: skip them, as dskit does
                log.error("etcd value does not decode, skipped key=%s mod_revision=%d err=%r",
                          key, mod_rev, exc)
                return
            try:
                callback(value)
            except Exception as exc:  # a bug of the ring: it fails the watch loop
                raise WatchCallbackError(f"watcher of {key!r} failed: {exc!r}") from exc

        while True:
            try:
                header_rev, value, mod_rev = await self._range(key)
                if mod_rev != delivered:
                    deliver(value, mod_rev)
                await self._stream(key, header_rev + 1, deliver)
                backoff = self._backoff_min
            except asyncio.CancelledError:
                raise
            except httpx.ReadTimeout:
                # Nothing changed for a while: re-read and re-watch, which also catches
                # a connection that died silently (no RST) under a quiet key.
                backoff = self._backoff_min
            except (httpx.HTTPError, EtcdError, OSError, ValueError) as exc:
                log.warning("etcd watch interrupted, reconnecting key=%s err=%s", key, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._backoff_max)

    async def _stream(
        self, key: str, start_revision: int, deliver: Callable[[bytes | None, int], None]
    ) -> None:
        url = self._urls[self._next % len(self._urls)]
        create = {"key": _b64(key.encode()), "start_revision": str(start_revision)}
        body = {"create_request": create}
        timeout = httpx.Timeout(self.config.dial_timeout, read=self._idle_timeout)
        async with self._http().stream(
            "POST", f"{url}/v3/watch", json=body, headers=self._headers(), timeout=timeout
        ) as resp:
            if resp.status_code != 200:
                self._next += 1
                raise EtcdError(f"etcd watch: {resp.status_code}")
            async for line in resp.aiter_lines():
                if not line.strip():
                    continue
                msg = json.loads(line)
                if "error" in msg:
                    raise EtcdError(f"etcd watch: {msg['error']}")
                result = msg.get("result") or {}
                if result.get("canceled") or int(result.get("compact_revision", 0) or 0):
                    raise _Restart("watch canceled by etcd")
                for event in result.get("events") or ():
                    kv = event["kv"]
                    if event.get("type") == "DELETE":
                        deliver(None, 0)
                    else:
                        deliver(_unb64(kv.get("value", "")), int(kv["mod_revision"]))
