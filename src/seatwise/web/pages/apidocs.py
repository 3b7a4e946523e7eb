"""The reporting API's documentation, served from the package with no CDN: Swagger UI at
`/api/docs` and ReDoc at `/api/redoc`, their scripts and styles from the `fastapi-offline`
package (which bundles swagger-ui and redoc), started by a static script of ours (no inline
script, so a `script-src 'self'` policy holds); and the favicon at `/favicon.ico`.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

from seatwise import __version__

router = APIRouter(include_in_schema=False)

ASSETS = Path(fastapi_offline.__file__).parent / "static"
SHIPPED = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
}
FAVICON = Path(__file__).parents[1] / "static" / "favicon.svg"
OPENAPI = "/api/v1/openapi.json"
# ReDoc styles itself with <style> elements it writes (styled-components) and searches in a
# worker it makes from a blob: its page alone allows those; scripts stay 'self' only.
REDOC_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    )
)

_SWAGGER = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>seatwise reporting API · Swagger UI</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
<link rel="stylesheet" href="/static/apidocs.css">
</head><body>
<nav class="apidocs-nav" aria-label="Documentation"><a href="/">seatwise</a>
<a href="/api/docs" aria-current="page">Swagger UI</a> <a href="/api/redoc">ReDoc</a>
<a href="{OPENAPI}">OpenAPI JSON</a></nav>
<main><div id="swagger-ui" data-spec="{OPENAPI}"></div></main>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script>
</body></html>
"""

_REDOC = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>seatwise reporting API · ReDoc</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/apidocs.css">
</head><body>
<nav class="apidocs-nav" aria-label="Documentation"><a href="/">seatwise</a>
<a href="/api/docs">Swagger UI</a> <a href="/api/redoc" aria-current="page">ReDoc</a>
<a href="{OPENAPI}">OpenAPI JSON</a></nav>
<main><redoc spec-url="{OPENAPI}"></redoc></main>
<script src="/api/docs/assets/redoc.standalone.js"></script>
</body></html>
"""


@router.get("/api/docs")
def swagger_ui() -> HTMLResponse:
    """Swagger UI over the API's OpenAPI document (try requests with a bearer token)."""
    return HTMLResponse(_SWAGGER)


@router.get("/api/redoc")
def redoc() -> HTMLResponse:
    """ReDoc over the API's OpenAPI document."""
    return HTMLResponse(_REDOC, headers={"Content-Security-Policy": REDOC_CSP})


@router.get("/api/docs/assets/{name}")
def asset(name: str) -> Response:
    """One of the bundled Swagger UI or ReDoc files (cached for a day; versioned by seatwise's
    version through the package lock)."""
    media = SHIPPED.get(name)
    if media is None:
        raise HTTPException(404, f"There is no documentation asset {name!r}.")
    headers = {"Cache-Control": "public, max-age=86400", "ETag": f'"{__version__}-{name}"'}
    return FileResponse(ASSETS / name, media_type=media, headers=headers)


@router.get("/favicon.ico")
def favicon() -> Response:
    """The seatwise icon (SVG) where a browser asks for /favicon.ico."""
    return FileResponse(FAVICON, media_type="image/svg+xml")
