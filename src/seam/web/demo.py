"""The demo site (`seam serve --demo`): a few pages wired to the default workspace."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from seam.errors import NotFound

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css",
    ".js": "application/javascript",
    ".svg": "image/svg+xml",
}


async def demo_page(request: Request) -> Response:
    name = request.path_params.get("name") or "index.html"
    path = (DEMO_DIR / name).resolve()
    if DEMO_DIR not in path.parents or not path.is_file():
        raise NotFound("no such demo page")
    body = path.read_bytes()
    if path.suffix == ".html":
        # The write key is public by design; the CLI minted one for this run of the demo.
        body = body.replace(
            b"__SEAM_WRITE_KEY__", os.environ.get("SEAM_DEMO_WRITE_KEY", "").encode()
        )
    return Response(body, media_type=CONTENT_TYPES.get(path.suffix, "application/octet-stream"))


async def demo_root(request: Request) -> Response:
    return RedirectResponse("/demo/")


routes = [
    Route("/demo", demo_root, methods=["GET"]),
    Route("/demo/", demo_page, methods=["GET"]),
    Route("/demo/{name:path}", demo_page, methods=["GET"]),
]
