"""The real HTTP server closes idle, half-sent and overdue connections and caps open ones.

Each test runs ``HTTPServer`` (uvicorn with our connection guard) on a loopback
port in a thread of its own and talks to it over plain sockets.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.support.metrics import metric_value
from tests.support.ports import free_port
from tidewell.api.config import ServerConfig
from tidewell.api.connections import CLOSED
from tidewell.api.server import HTTPServer, ListenError

pytestmark = pytest.mark.serial  # connection timeouts and latencies are bounded: alone on its core


async def ready(_: Request) -> PlainTextResponse:
    return PlainTextResponse("ready")


async def slow(_: Request) -> PlainTextResponse:
    await asyncio.sleep(5)
    return PlainTextResponse("late")


async def brief(_: Request) -> PlainTextResponse:
    await asyncio.sleep(0.5)
    return PlainTextResponse("done")


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


APP = Starlette(routes=[Route("/ready", ready), Route("/slow", slow), Route("/brief", brief),
                        Route("/echo", echo, methods=["POST"])])


@contextmanager
def running(
        **settings: float) -> Iterator[tuple[ServerConfig, HTTPServer, asyncio.AbstractEventLoop]]:
    """The server on its own loop in a thread: its config, itself and that loop."""
    config = ServerConfig(http_listen_address="127.0.0.1", http_listen_port=free_port(),
                          graceful_shutdown_timeout=1, **settings)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    server = HTTPServer(APP, config)
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield config, server, loop
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@contextmanager
def serving(**settings: float) -> Iterator[ServerConfig]:
    with running(**settings) as (config, _, _):
        yield config


def connect(config: ServerConfig) -> socket.socket:
    return socket.create_connection(("127.0.0.1", config.http_listen_port), timeout=10)


def closed_after(sock: socket.socket) -> float:
    """Seconds until the server closes ``sock`` (reading and discarding any response)."""
    t0 = time.monotonic()
    while True:
        try:
            if not sock.recv(65536):
                return time.monotonic() - t0
        except ConnectionResetError:
            return time.monotonic() - t0


def closed_for(reason: str) -> float:
    return metric_value(CLOSED, reason)


def url(config: ServerConfig) -> str:
    return f"http://127.0.0.1:{config.http_listen_port}"


def test_defaults_are_mimirs() -> None:
    c = ServerConfig()
    assert (c.http_server_read_timeout, c.http_server_write_timeout,
            c.http_server_idle_timeout) == (30.0, 120.0, 120.0)


def test_silent_and_half_sent_connections_are_closed_after_the_read_timeout() -> None:
    before = closed_for("read-timeout")
    with serving(http_server_read_timeout=0.5, http_server_idle_timeout=60) as config:
        t0 = time.monotonic()
        silent = connect(config)
        half_headers = connect(config)
        half_headers.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\n")
        half_body = connect(config)
        half_body.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n12345")
        for sock in (silent, half_headers, half_body):
            closed_after(sock)
            took = time.monotonic() - t0
            assert 0.4 < took < 3, took
        # a complete request inside the deadline is answered
        assert httpx.post(f"{url(config)}/echo", content=b"x" * 100).text == "100"
    assert closed_for("read-timeout") - before == 3


def test_keep_alive_connection_is_closed_after_the_idle_timeout() -> None:
    with serving(http_server_read_timeout=60, http_server_idle_timeout=0.5) as config:
        sock = connect(config)
        sock.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        took = closed_after(sock)
        assert 0.3 < took < 3, took


def test_response_overdue_past_the_write_timeout_closes_the_connection() -> None:
    with serving(http_server_write_timeout=0.5) as config:
        t0 = time.monotonic()
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{url(config)}/slow", timeout=10)
        assert time.monotonic() - t0 < 3


def test_many_idle_connections_do_not_stop_ready() -> None:
    before = closed_for("evicted-at-cap")
    with serving(http_listen_conn_limit=50, http_server_read_timeout=60) as config:
        idle = [connect(config) for _ in range(200)]
        half = [connect(config) for _ in range(50)]
        for sock in half:
            sock.sendall(b"GET /ready HTTP/1.1\r\n")
        time.sleep(0.2)
        t0 = time.monotonic()
        for _ in range(20):
            r = httpx.get(f"{url(config)}/ready", timeout=5)
            assert r.status_code == 200
        assert time.monotonic() - t0 < 5
        # the oldest idle ones made room: the server closed them
        assert closed_after(idle[0]) < 1
        for sock in idle + half:
            sock.close()
    assert closed_for("evicted-at-cap") - before >= 200


def test_at_the_cap_with_every_connection_busy_a_new_one_gets_503() -> None:
    with serving(http_listen_conn_limit=3) as config:
        busy = [connect(config) for _ in range(3)]
        for sock in busy:
            sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        before = closed_for("refused-all-busy")
        r = httpx.get(f"{url(config)}/ready", timeout=5)
        assert r.status_code == 503 and "too many open connections" in r.text
        assert closed_for("refused-all-busy") == before + 1
        for sock in busy:
            sock.close()


def test_endless_headers_get_431_and_a_close() -> None:
    """Without the cap, uvicorn keeps every header line in memory until the read timeout."""
    with serving(http_server_read_timeout=60) as config:
        t0 = time.monotonic()
        sock = connect(config)
        sock.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\n")
        reply = b""
        try:
            for _ in range(2_000):  # 2 MiB of headers, never ending
                sock.sendall(b"X-Filler: " + b"y" * 1000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
        # the 431 may be lost to the reset that unread input causes; the close is not
        assert reply == b"" or reply.startswith(b"HTTP/1.1 431"), reply[:100]
        assert time.monotonic() - t0 < 10  # closed for its size, not by the read timeout
        assert httpx.get(f"{url(config)}/ready").status_code == 200


def test_port_in_use_is_a_one_line_error() -> None:
    with serving() as config, pytest.raises(ListenError, match="address already in use"):
        asyncio.run(HTTPServer(APP, config).start())


def test_get_after_post_on_a_keep_alive_connection_is_not_held_by_nagle() -> None:
    """Accepted sockets get TCP_NODELAY: uvicorn writes headers and body in two sends,
    and with Nagle on the body waited for the client's delayed ACK (~40 ms)."""
    with serving() as config, httpx.Client(
            base_url=f"http://127.0.0.1:{config.http_listen_port}") as c:
        gets = []
        for i in range(21):
            assert c.post("/echo", content=b"x" * 2000).text == "2000"
            t0 = time.perf_counter()
            assert c.get("/ready").status_code == 200
            if i:
                gets.append(time.perf_counter() - t0)
    gets.sort()
    assert gets[len(gets) // 2] < 0.010, [round(g * 1000, 1) for g in gets]


def read_to_close(sock: socket.socket) -> bytes:
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_drain_refuses_new_connections_closes_idle_ones_and_lets_requests_finish() -> None:
    with running() as (config, server, loop):
        idle = connect(config)
        idle.sendall(b"GET /ready HTTP/1.1\r\nHost: t\r\n\r\n")
        assert idle.recv(65536).startswith(b"HTTP/1.1 200")
        wait_for(lambda: server.gate.in_flight == 0)  # /ready's task ends after its answer
        busy = connect(config)
        busy.sendall(b"GET /brief HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_for(lambda: server.gate.in_flight == 1)
        drained = asyncio.run_coroutine_threadsafe(server.drain(), loop)
        wait_for(lambda: server.gate.draining)
        with pytest.raises(ConnectionRefusedError):
            connect(config)
        assert closed_after(idle) < 1  # keep-alive between requests: closed, not left hanging
        answer = read_to_close(busy)  # the request in flight finishes, then the connection closes
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"done")
        assert b"connection: close" in answer.lower()
        drained.result(5)
        assert server.gate.in_flight == 0
        late = asyncio.run_coroutine_threadsafe(asgi_get(server, "/ready"), loop).result(5)
        assert late.status_code == 503 and late.headers["connection"] == "close"
        assert late.json()["error"] == "the server is shutting down"


async def asgi_get(server: HTTPServer, path: str) -> httpx.Response:
    """A request that reaches the app past the listener (one in flight on a keep-alive
    connection as the drain began)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.gate),
                                 base_url="http://t") as c:
        return await c.get(path)


def test_requests_past_the_graceful_timeout_are_cut_with_503() -> None:
    with running() as (config, server, loop):  # graceful timeout 1 s, /slow takes 5 s
        busy = connect(config)
        busy.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_for(lambda: server.gate.in_flight == 1)
        t0 = time.monotonic()
        asyncio.run_coroutine_threadsafe(server.drain(), loop).result(5)
        assert time.monotonic() - t0 < 3
        answer = read_to_close(busy)
        assert answer.startswith(b"HTTP/1.1 503")
        assert b"-server.graceful-shutdown-timeout" in answer


def test_connections_accepted_as_the_drain_begins_get_an_answer() -> None:
    """Closing the asyncio server in the loop turn that accepted them stranded them."""
    with running() as (config, server, loop):
        socks = [connect(config) for _ in range(20)]
        for sock in socks:
            sock.sendall(b"GET /ready HTTP/1.1\r\nHost: t\r\n\r\n")
        drained = asyncio.run_coroutine_threadsafe(server.drain(), loop)
        statuses = set()
        for sock in socks:
            sock.settimeout(5)
            try:
                statuses.add(read_to_close(sock)[:12])
            except ConnectionResetError:  # still in the backlog when the listener closed
                statuses.add(b"reset")
        drained.result(5)
        assert statuses <= {b"HTTP/1.1 200", b"HTTP/1.1 503", b"reset"}, statuses
