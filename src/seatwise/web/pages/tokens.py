"""API tokens on the Settings page: admins create them (the value is shown once, only its hash
is kept) and revoke them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response

from seatwise.errors import UsageError
from seatwise.store.schema import ROLES
from seatwise.web.pages.settings import render_settings
from seatwise.web.security import Admin, Csrf
from seatwise.web.state import web_state
from seatwise.workspace.accounts import create_token, revoke_token

router = APIRouter(include_in_schema=False)


@router.post("/settings/tokens", dependencies=[Csrf])
def create(
    request: Request,
    user: Admin,
    name: Annotated[str, Form()],
    role: Annotated[str, Form()] = "viewer",
) -> Response:
    """Create a token and show its value on the page, once."""
    name = name.strip()
    if not name or len(name) > 64:
        raise HTTPException(422, "A token needs a name of 1 to 64 characters.")
    if role not in ROLES:
        raise HTTPException(422, f"The role must be one of {', '.join(ROLES)}.")
    with web_state(request).session(write=True) as session:
        value = create_token(session, name, role, f"web:{user.name}")
    shown = render_settings(request, user, new_token={"name": name, "role": role, "value": value})
    shown.headers["Cache-Control"] = "no-store"  # the value is shown this once
    return shown


@router.post("/settings/tokens/{token_pk}/revoke", dependencies=[Csrf])
def revoke(
    request: Request, user: Admin, token_pk: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    """Revoke a token: API calls with it are refused from now on."""
    with web_state(request).session(write=True) as session:
        try:
            revoke_token(session, token_pk, actor=f"web:{user.name}")
        except UsageError as exc:
            raise HTTPException(404, str(exc)) from None
    return RedirectResponse("/settings#api-tokens", status_code=303)
