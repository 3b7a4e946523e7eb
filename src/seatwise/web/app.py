"""The web application (FastAPI + Jinja2, server-rendered): the UI pages under `/`, the
reporting API under `/api/v1`, static files bundled in the package. `create_app` builds it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from seatwise import __version__
from seatwise.config import Settings, load_settings
from seatwise.errors import AppError
from seatwise.web import pages
from seatwise.web.formats import FILTERS
from seatwise.web.guard import Guard, request_id
from seatwise.web.security import LoginRequired, csrf_token, session_principal
from seatwise.web.state import TEMPLATES_DIR, WebState
from seatwise.web.throttle import LoginGuard
from seatwise.workspace import Workspace

__all__ = ["create_app"]

STATIC_DIR = Path(__file__).parent / "static"
SESSION_HOURS = 8
# Threads that run the synchronous endpoints (FastAPI's default is 40). Requests are short and
# hold the GIL for most of their time, so more threads only make them take turns: with 50
# clients, 8 answered about twice as fast at p95 as 40 (BENCHMARKS.md). More processes
# (`seatwise serve --workers`) are what use more cores.
WORKER_THREADS = 8


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
    yield


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))  # autoescape on for .html
    templates.env.globals["csrf_token"] = csrf_token
    templates.env.globals["version"] = __version__
    templates.env.filters.update(FILTERS)  # numbers, money and dates for people
    return templates


def _error_page(
    request: Request, status: int, message: str, context: dict[str, Any] | None = None
) -> Response:
    """The API's error shape under /api, else error.html (`context`: the layout's, e.g. the
    signed-in user for the navigation)."""
    if _wants_json(request):
        from http import HTTPStatus

        # OData's error shape: `code` is a string (the status's name, e.g. "NotFound").
        try:
            code = HTTPStatus(status).phrase.replace(" ", "").replace("-", "")
        except ValueError:
            code = str(status)
        body = {"error": {"code": code, "message": message}}
        return JSONResponse(body, status, headers={"OData-Version": "4.0"})
    state: WebState = request.app.state.web
    page = {"status": status, "message": message, "request_id": request_id(request)}
    return state.templates.TemplateResponse(
        request, "error.html", {**(context or {}), **page}, status_code=status
    )


def _layout(request: Request) -> dict[str, Any]:
    """What the layout needs to show the navigation to a signed-in user (404 pages)."""
    from seatwise.web.render import NAV

    user = session_principal(request)
    return {} if user is None else {"user": user, "nav": NAV, "active": "", "tenants": []}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The seatwise web app for `settings` (default: loaded from the environment)."""
    workspace = Workspace(settings or load_settings())
    settings, box = workspace.settings, workspace.secrets
    workspace.engine  # noqa: B018  (made and migrated now, not on the first request)
    app = FastAPI(
        title="seatwise reporting API",
        version=__version__,
        description=(
            "Read licences, users, activity, recommendations, task runs, plans and the audit "
            "log of your Microsoft 365 tenants; admins may change contract fields, the managed "
            "flag and plans. Lists answer `{value: [...], @odata.nextLink}` like OData, so "
            "Power BI's OData and Web connectors page through them."
        ),
        docs_url=None,  # Swagger UI and ReDoc from the package: web.pages.apidocs
        redoc_url=None,
        lifespan=_lifespan,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.web = WebState(workspace, _templates())
    app.state.login_guard = LoginGuard()  # sign-in throttle and password-check pool
    app.add_middleware(
        SessionMiddleware,
        secret_key=box.derive("web session").hex(),
        session_cookie="seatwise_session",
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=settings.secure_cookies,  # on behind a TLS-terminating proxy
    )
    # Outside the sessions: headers, body caps, API writes checked before their body, 500s.
    app.add_middleware(Guard, hsts=settings.secure_cookies, error_page=_error_page)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    pages.include(app)

    @app.exception_handler(LoginRequired)
    async def login_required(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={_quote(exc.path)}", status_code=303)

    @app.exception_handler(HTTPException)  # Starlette's: FastAPI's and the body decoder's
    async def http_error(request: Request, exc: HTTPException) -> Response:
        context = None
        if exc.status_code == 404 and not _wants_json(request):
            context = await anyio.to_thread.run_sync(_layout, request)
        response = _error_page(request, exc.status_code, str(exc.detail), context)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        status: Any = getattr(exc, "http_status", None) or 400
        return _error_page(request, int(status), str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":  # the client is known: answer like a 400
            return _error_page(request, 400, "The request body is not valid JSON.")
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
        message = f"{where}: {first.get('msg', 'invalid value')}" if where else "Invalid request."
        return _error_page(request, 422, message)

    return app


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
