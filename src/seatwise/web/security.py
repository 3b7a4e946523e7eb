"""Who may do what in the web app: the signed-in user (signed session cookie), CSRF tokens on
every form post, the admin role for changes, and bearer tokens for the API.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from seatwise.web.accounts import Principal, in_background, principal_for_token, stamp_token_use
from seatwise.web.state import web_state

__all__ = [
    "Admin",
    "ApiAdmin",
    "ApiPrincipal",
    "Csrf",
    "LoginRequired",
    "User",
    "csrf_token",
    "sign_in",
    "sign_out",
]

CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """Raised for a page request without a signed-in user: answered with a redirect to /login."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use); every form carries it."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def sign_in(request: Request, principal: Principal) -> None:
    """Start a fresh session for `principal` (a new CSRF token too)."""
    request.session.clear()
    request.session.update({"user": principal.name, "role": principal.role})
    csrf_token(request)


def sign_out(request: Request) -> None:
    """End the session."""
    request.session.clear()


def current_user(request: Request) -> Principal:
    """The signed-in user, or `LoginRequired`."""
    name, role = request.session.get("user"), request.session.get("role")
    if not isinstance(name, str) or not isinstance(role, str):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return Principal(name, role)


def require_admin(user: Annotated[Principal, Depends(current_user)]) -> Principal:
    """The signed-in user when an admin, else 403."""
    if not user.is_admin:
        raise HTTPException(403, "Only an admin may do this.")
    return user


async def check_csrf(request: Request) -> None:
    """Refuse (403) a form post whose CSRF token is missing or not the session's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str):
        raise HTTPException(403, "The form has expired or did not come from seatwise; reload it.")
    if not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "The form has expired or did not come from seatwise; reload it.")


def api_principal(request: Request) -> Principal:
    """The API caller: a bearer token, or the signed-in user of the UI; 401 otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        state = web_state(request)
        with state.session() as session:
            found = principal_for_token(session, token.strip())
        if found is None:
            raise HTTPException(401, "The API token is not valid.", {"WWW-Authenticate": "Bearer"})
        principal, token_pk, stale = found
        if stale:  # once a minute at most, never holding up the request (a sync may write)
            in_background(state.engine, stamp_token_use, token_pk)
        return principal
    name, role = request.session.get("user"), request.session.get("role")
    if isinstance(name, str) and isinstance(role, str):
        return Principal(name, role)
    raise HTTPException(
        401, "Send an API token: Authorization: Bearer …", {"WWW-Authenticate": "Bearer"}
    )


def api_admin(principal: Annotated[Principal, Depends(api_principal)]) -> Principal:
    """The API caller when it may write: an admin token (a browser session cannot write through
    the API, so no cross-site request can either), else 403."""
    if principal.kind != "token":
        raise HTTPException(403, "Writing through the API needs an API token with role admin.")
    if not principal.is_admin:
        raise HTTPException(403, "This token is read-only (role viewer).")
    return principal


User = Annotated[Principal, Depends(current_user)]
Admin = Annotated[Principal, Depends(require_admin)]
Csrf = Depends(check_csrf)
ApiPrincipal = Annotated[Principal, Depends(api_principal)]
ApiAdmin = Annotated[Principal, Depends(api_admin)]
