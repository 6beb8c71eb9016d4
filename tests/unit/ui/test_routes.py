"""``/ui/`` serves the committed bundle (gzip-compressed) and ``/ui`` redirects to it."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tidewell.ui import STATIC_DIR, ui_routes

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_serves_the_bundle() -> None:
    app = Starlette(routes=ui_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        r = await c.get("/ui")
        assert r.status_code == 308 and r.headers["location"] == "/ui/"
        r = await c.get("/ui/")
        assert r.status_code == 200 and '<script src="app.js">' in r.text
        r = await c.get("/ui/app.js", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
        assert r.content == (STATIC_DIR / "app.js").read_bytes()  # httpx decompressed it
        assert r.num_bytes_downloaded < len(r.content) / 2
        assert (await c.get("/ui/app.css")).status_code == 200
        assert (await c.get("/ui/nope.js")).status_code == 404
