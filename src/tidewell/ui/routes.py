"""``/ui/``: the web UI's files, gzip-compressed, with ``/ui`` redirecting to it.

The assets are committed under ``static/`` (``app.js`` and ``app.css`` built from the npm
packages by ``ui/web/build.sh``), so serving them needs nothing but Starlette. Every page
is a fragment of ``index.html`` (``/ui/#/query?…``); the API it calls is the process's own.
"""

from __future__ import annotations

from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "ui_routes"]

STATIC_DIR = Path(__file__).parent / "static"


def ui_routes() -> list[BaseRoute]:
    if not (STATIC_DIR / "app.js").is_file():
        raise FileNotFoundError(f"the UI bundle is missing: {STATIC_DIR / 'app.js'} "
                                "(run ui/web/build.sh)")

    async def to_slash(_: Request) -> Response:
        return RedirectResponse("/ui/", status_code=308)

    files = GZipMiddleware(StaticFiles(directory=STATIC_DIR, html=True), minimum_size=1024)
    return [Route("/ui", to_slash), Mount("/ui", app=files)]
