"""What the web app does around every request (one ASGI middleware, outside the session
middleware):

- security headers on every answer: a Content-Security-Policy without inline script,
  `frame-ancestors 'none'` and `X-Frame-Options: DENY`, `nosniff`, a Referrer-Policy, and HSTS
  when `secure_cookies` is on (the app is served over HTTPS);
- a request id (`X-Request-Id`) on every answer;
- body caps: JSON bodies up to `JSON_LIMIT`, others (forms) up to `FORM_LIMIT`, else 413, checked
  on `Content-Length` and again while the body streams in;
- API writes are authenticated before their body is read: no token, an invalid one or a
  read-only one is answered 401/403 without reading a byte of the body;
- any unexpected exception answers 500 (a page, or the API's error shape under /api) with one
  sentence and the request id; the traceback goes to the log only.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seatwise.workspace.accounts import Principal, principal_for_token

__all__ = [
    "CSP",
    "FORM_LIMIT",
    "JSON_LIMIT",
    "PRINCIPAL_KEY",
    "REQUEST_ID_KEY",
    "Guard",
    "security_headers",
]

log = logging.getLogger("seatwise.web")

JSON_LIMIT = 1024 * 1024
"""Largest JSON body (1 MiB): a plan's user list of thousands of addresses fits."""
FORM_LIMIT = 256 * 1024
"""Largest form or other body (256 KiB)."""
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",  # style="" on SVG chart parts; no <style> elements
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    )
)
PRINCIPAL_KEY = "api_principal"
REQUEST_ID_KEY = "request_id"
TOO_LARGE = "The request body is too large (at most {limit} KiB)."
HSTS = "max-age=31536000"


def security_headers(*, hsts: bool) -> list[tuple[str, str]]:
    """The headers every answer carries."""
    found = [
        ("Content-Security-Policy", CSP),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ]
    if hsts:
        found.append(("Strict-Transport-Security", HSTS))
    return found


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, TOO_LARGE.format(limit=limit // 1024))


ErrorPage = Callable[[Request, int, str], Response]


class Guard:
    """The middleware; `error_page(request, status, message)` renders refusals and 500s."""

    def __init__(self, app: ASGIApp, *, hsts: bool, error_page: ErrorPage) -> None:
        self.app = app
        self.headers = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in security_headers(hsts=hsts)
        ]
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})[REQUEST_ID_KEY] = request_id
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for key, value in self.headers:
                    name = key.decode("latin-1")
                    if name not in headers:
                        headers.raw.append((key, value))
                headers["X-Request-Id"] = request_id
            await send(message)

        try:
            refusal = await self._refusal(scope) if scope["method"] in WRITES else None
            if refusal is not None:
                await refusal(scope, receive, send_with_headers)
                return
            limit = _limit(Headers(scope=scope))
            await self.app(scope, _capped(receive, limit), send_with_headers)
        except Exception:
            log.exception(
                "Unexpected error answering %s %s (request %s)",
                scope["method"],
                scope["path"],
                request_id,
            )
            if started:
                raise
            message = (
                f"Something went wrong on our side (request {request_id}); it has been logged."
            )
            page = self.error_page(Request(scope), 500, message)
            await page(scope, receive, send_with_headers)

    async def _refusal(self, scope: Scope) -> Response | None:
        """The answer to a write that must not be read: too large, or an API write without an
        admin token; None to go on."""
        headers = Headers(scope=scope)
        limit = _limit(headers)
        length = headers.get("content-length", "")
        request = Request(scope)
        if scope["path"].startswith("/api/"):  # who asks comes first, then how much
            found = await _api_writer(scope, headers)
            if isinstance(found[0], Principal):
                scope["state"][PRINCIPAL_KEY] = found  # api_principal takes it from here
            else:
                status, message, extra = found
                answer = self.error_page(request, status, message)
                answer.headers.update(extra)
                return answer
        if length.isdigit() and int(length) > limit:
            return self.error_page(request, 413, TOO_LARGE.format(limit=limit // 1024))
        return None


async def _api_writer(
    scope: Scope, headers: Headers
) -> tuple[Principal, int, bool] | tuple[int, str, dict[str, str]]:
    """The admin token of an API write (as `principal_for_token` finds it), or (status,
    message, headers) to refuse it with."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": "Bearer"}
    if scheme.lower() != "bearer" or not token.strip():
        if "seatwise_session=" in headers.get("cookie", ""):
            return 403, "Writing through the API needs an API token with role admin.", {}
        return 401, "Send an API token: Authorization: Bearer …", challenge
    state = scope["app"].state.web

    def lookup() -> tuple[Principal, int, bool] | None:
        with state.session() as session:
            return principal_for_token(session, token.strip())

    found = await run_in_threadpool(lookup)
    if found is None:
        return 401, "The API token is not valid.", challenge
    if not found[0].is_admin:
        return 403, "This token is read-only (role viewer).", {}
    return found


def _limit(headers: Headers) -> int:
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return JSON_LIMIT if kind == "application/json" or kind.endswith("+json") else FORM_LIMIT


def _capped(receive: Receive, limit: int) -> Receive:
    """`receive` that refuses (413) a body growing past `limit` while it streams in."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge(limit)
        return message

    return capped


def request_id(request: Request) -> str:
    """The id of this request (in the answer's `X-Request-Id` and in the log)."""
    found: Any = request.scope.get("state", {}).get(REQUEST_ID_KEY)
    return str(found or "-")
