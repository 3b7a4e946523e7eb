"""Local accounts on the Settings page: admins create accounts, disable and enable them, give
them a new password or role, and delete them (every form carries the CSRF token). The use cases
are `seatwise.workspace.accounts`'s, which audits each change and ends the account's sessions
where it must; the last active admin cannot be disabled, demoted or deleted. A new password is
hashed on the sign-in's password pool (`seatwise.web.throttle`), never on the threads that serve
pages, and before the database's write lock is taken."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from seatwise.errors import UsageError
from seatwise.web.pages.auth import login_guard
from seatwise.web.pages.settings import back, flash
from seatwise.web.security import Admin, Csrf
from seatwise.web.state import web_state
from seatwise.web.throttle import PoolBusy
from seatwise.workspace.accounts import (
    change_password,
    create_user,
    delete_user,
    set_account_active,
    set_role,
)

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form()]
ANCHOR = "#accounts"


def _change(request: Request, work: Callable[[Session], str]) -> Response:
    """Run `work` in one unit of work; flash its sentence, or the refusal's."""
    try:
        with web_state(request).session(write=True) as session:
            done = work(session)
    except UsageError as exc:
        flash(request, "error", str(exc))
    else:
        flash(request, "ok", done)
    return back(ANCHOR)


async def _run(request: Request, work: Callable[[Session], str], *, hashing: bool) -> Response:
    """`_change` on the password pool when it hashes a password, else on the usual threads."""
    if not hashing:
        return await run_in_threadpool(_change, request, work)
    try:
        return await login_guard(request).check(lambda: _change(request, work))
    except PoolBusy:
        flash(request, "error", "Too many passwords are being checked at once; try again.")
        return back(ANCHOR)


@router.post("/settings/accounts", dependencies=[Csrf])
async def create(
    request: Request, user: Admin, username: Text, password: Text, role: Text
) -> Response:
    """Create an account."""

    def work(session: Session) -> str:
        made = create_user(session, username, password, role, actor=f"web:{user.name}")
        return f"Account {made.username} created with role {made.role}."

    return await _run(request, work, hashing=True)


@router.post("/settings/accounts/{action}", dependencies=[Csrf])
async def change(
    request: Request,
    user: Admin,
    action: str,
    username: Text,
    role: Text = "",
    password: Text = "",
) -> Response:
    """Disable, enable, delete an account, or give it a new role or password."""
    actor = f"web:{user.name}"

    def work(session: Session) -> str:
        if action in ("disable", "enable"):
            active = action == "enable"
            if not set_account_active(session, username, active, actor=actor):
                return f"Account {username} was already {action}d."
            return f"Account {username} {action}d."
        if action == "role":
            if not set_role(session, username, role, actor=actor):
                return f"Account {username} was already {role}."
            return f"Account {username} is {role}; its sessions have ended."
        if action == "password":
            change_password(session, username, password, actor=actor)
            return f"New password set for {username}; its sessions have ended."
        if action == "delete":
            delete_user(session, username, actor=actor)
            return f"Account {username} deleted."
        raise HTTPException(404, "There is no such account action.")

    return await _run(request, work, hashing=action == "password")
