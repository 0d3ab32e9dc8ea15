"""Pages: the participant journey (``/``), the officer desk (``/officer``) and the supervisor's
review (``/supervisor``), their static files, translations and the vendored Socket.IO client.

Pages are plain HTML + ES modules + CSS served from ``web/static``; every text is looked up in
``web/i18n/<lang>.json`` by the browser, so the markup holds keys, not words.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
I18N_DIR = WEB_DIR / "i18n"
# Installed by `make` (npm ci); served from our own origin, never from a CDN.
SOCKET_IO_DIST = WEB_DIR / "node_modules" / "socket.io-client" / "dist"
VENDOR_FILES = {
    "socket.io.min.js": SOCKET_IO_DIST / "socket.io.min.js",
    "socket.io.esm.min.js": SOCKET_IO_DIST / "socket.io.esm.min.js",
}
LANGUAGES = ("id", "en")
PAGES = {
    "/": "participant.html",
    "/status": "participant.html",
    "/officer": "officer.html",
    "/supervisor": "supervisor.html",
}
# Pages and modules change with every deploy; let the browser revalidate instead of guessing.
REVALIDATE = {"Cache-Control": "no-cache"}


def _page(name: str) -> Handler:
    path = STATIC_DIR / name

    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers=REVALIDATE)

    return handler


async def vendor_file(request: web.Request) -> web.StreamResponse:
    path = VENDOR_FILES.get(request.match_info["name"])
    if path is None or not path.is_file():
        raise web.HTTPNotFound(text="not installed; run `make web-deps`")
    return web.FileResponse(path, headers=REVALIDATE)


async def translations(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    if lang not in LANGUAGES:
        raise web.HTTPNotFound()
    return web.FileResponse(I18N_DIR / f"{lang}.json", headers=REVALIDATE)


@web.middleware
async def _revalidate_static(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-cache")
    return response


def install(app: web.Application) -> None:
    """Add the page routes, static files and translations to ``app``."""
    for route, name in PAGES.items():
        app.router.add_get(route, _page(name))
    app.router.add_get("/static/vendor/{name}", vendor_file)
    app.router.add_get("/i18n/{lang}.json", translations)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
    app.middlewares.append(_revalidate_static)
