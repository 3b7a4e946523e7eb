"""Who may do what in the web app: the signed-in user (signed session cookie), CSRF tokens on
every form post, the admin role for changes, and bearer tokens for the API.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from seatwise.web.guard import PRINCIPAL_KEY
from seatwise.web.state import web_state
from seatwise.workspace.accounts import (
    Principal,
    end_sessions_now,
    in_background,
    principal_for_token,
    session_state,
    stamp_token_use,
)

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


SESSION_MAX_S = 8 * 3600  # a session ends this long after signing in, however busy


def sign_in(request: Request, principal: Principal, epoch: int) -> None:
    """Start a fresh session for `principal` (a new CSRF token too)."""
    request.session.clear()
    request.session.update(
        {"user": principal.name, "role": principal.role, "epoch": epoch, "since": time.time()}
    )
    csrf_token(request)


def sign_out(request: Request) -> None:
    """End the session here, and every other session of the account (copied cookies too),
    before answering: the epoch moves on in a unit of work of this request, tried again while
    the database is busy; `StoreError` (an error page) when it could not be written."""
    name = request.session.get("user")
    request.session.clear()
    if isinstance(name, str):
        end_sessions_now(web_state(request).engine, name)


def session_principal(request: Request) -> Principal | None:
    """The signed-in user of the session cookie, checked against the account now: it must
    still exist and be active, the session's epoch must be current (not signed out since, no
    new password) and not older than `SESSION_MAX_S`; the role is the account's current one."""
    name, epoch, since = (request.session.get(k) for k in ("user", "epoch", "since"))
    if not isinstance(name, str) or not isinstance(epoch, int):
        return None
    if not isinstance(since, (int, float)) or time.time() - since > SESSION_MAX_S:
        request.session.clear()
        return None
    with web_state(request).session() as session:
        found = session_state(session, name)
    if found is None or not found[1] or found[2] != epoch:
        request.session.clear()
        return None
    return Principal(name, found[0])


def current_user(request: Request) -> Principal:
    """The signed-in user, or `LoginRequired`."""
    principal = session_principal(request)
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return principal


async def require_admin(user: Annotated[Principal, Depends(current_user)]) -> Principal:
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
    state = web_state(request)
    # An API write's token was checked before its body was read (web.guard).
    checked: tuple[Principal, int, bool] | None = request.scope.get("state", {}).get(PRINCIPAL_KEY)
    if checked is not None or (scheme.lower() == "bearer" and token):
        found = checked
        if found is None:
            with state.session() as session:
                found = principal_for_token(session, token.strip())
        if found is None:
            raise HTTPException(401, "The API token is not valid.", {"WWW-Authenticate": "Bearer"})
        principal, token_pk, stale = found
        if stale:  # once a minute at most, never holding up the request (a sync may write)
            in_background(state.engine, stamp_token_use, token_pk)
        return principal
    signed_in = session_principal(request)
    if signed_in is not None:
        return signed_in
    raise HTTPException(
        401, "Send an API token: Authorization: Bearer …", {"WWW-Authenticate": "Bearer"}
    )


async def api_admin(principal: Annotated[Principal, Depends(api_principal)]) -> Principal:
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
