"""Signing in and out of the web UI.

Sign-in is throttled per account and per client address (`seatwise.web.throttle`): while a
wait is due it answers 429 with `Retry-After` and checks no password. The password check runs
on the throttle's own small pool, so failed sign-ins never hold the threads that serve pages
and the API; when that pool is full, sign-in answers 503 at once.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from seatwise.web.security import Csrf, csrf_token, sign_in, sign_out
from seatwise.web.state import WebState, web_state
from seatwise.web.throttle import BUSY_RETRY_S, LoginGuard, PoolBusy
from seatwise.workspace.accounts import (
    Principal,
    authenticate,
    in_background,
    session_state,
    stamp_login,
)

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a local path: never redirect to another site after signing in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def login_guard(request: Request) -> LoginGuard:
    """The app's sign-in throttle and password-check pool."""
    guard: LoginGuard = request.app.state.login_guard
    return guard


def client_address(request: Request) -> str:
    """The client's address (the proxy's, unless the server trusts its forwarded headers)."""
    return request.client.host if request.client else "unknown"


def _form(request: Request, next_: str, error: str | None, status: int = 200) -> Response:
    return web_state(request).templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next_), "error": error}, status_code=status
    )


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:  # noqa: A002
    """The sign-in form."""
    csrf_token(request)
    return _form(request, next or "/", None)


def _check(state: WebState, username: str, password: str) -> tuple[Principal, int] | None:
    """On the password pool: the principal and session epoch when the password is right."""
    with state.session() as session:
        principal = authenticate(session, username, password)
        found = session_state(session, principal.name) if principal is not None else None
    if principal is None or found is None:
        return None
    return principal, found[2]


@router.post("/login", dependencies=[Csrf])
async def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",  # noqa: A002
) -> Response:
    """Check the password (unless throttled); start a session or show the form again."""
    state, guard, address = web_state(request), login_guard(request), client_address(request)
    wait = guard.retry_after(username, address)
    if wait is not None:
        answer = _form(
            request,
            next,
            f"Too many failed sign-ins; try again in {_duration(wait)}.",
            429,
        )
        answer.headers["Retry-After"] = str(wait)
        return answer
    try:
        found = await guard.check(lambda: _check(state, username, password))
    except PoolBusy:
        answer = _form(request, next, "Too many sign-ins at once; try again in a moment.", 503)
        answer.headers["Retry-After"] = str(BUSY_RETRY_S)
        return answer
    if found is None:
        guard.failed(username, address)
        return _form(request, next, "Wrong user name or password.", 401)
    principal, epoch = found
    guard.succeeded(username)
    # A sync may hold the database's write lock: signing in must not wait for it.
    in_background(state.engine, stamp_login, principal.name, password)
    sign_in(request, principal, epoch)
    return RedirectResponse(_safe_next(next), status_code=303)


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request) -> Response:
    """End the session here and every other session of the account, before answering."""
    sign_out(request)
    return RedirectResponse("/login", status_code=303)
