"""Signing in and out of the web UI."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from seatwise.web.security import Csrf, csrf_token, sign_in, sign_out
from seatwise.web.state import web_state
from seatwise.workspace.accounts import authenticate, in_background, session_state, stamp_login

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a local path: never redirect to another site after signing in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:  # noqa: A002
    """The sign-in form."""
    csrf_token(request)
    return web_state(request).templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": None}
    )


@router.post("/login", dependencies=[Csrf])
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",  # noqa: A002
) -> Response:
    """Check the password; start a session or show the form again."""
    state = web_state(request)
    with state.session() as session:
        principal = authenticate(session, username, password)
        found = session_state(session, username.strip()) if principal is not None else None
    if principal is not None:
        # A sync may hold the database's write lock: signing in must not wait for it.
        in_background(state.engine, stamp_login, username, password)
    if principal is None:
        return state.templates.TemplateResponse(
            request,
            "login.html",
            {"next": _safe_next(next), "error": "Wrong user name or password."},
            status_code=401,
        )
    assert found is not None
    sign_in(request, principal, found[2])
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request) -> Response:
    """End the session."""
    sign_out(request)
    return RedirectResponse("/login", status_code=303)
