"""Local accounts of the web UI and bearer tokens of the reporting API, in the store.

Passwords are hashed with Argon2id (argon2-cffi); API tokens are random and only their SHA-256
is kept, so neither can be read back from the database.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from seatwise.errors import StoreError, UsageError
from seatwise.store import session_scope
from seatwise.store.schema import ROLES, ApiToken, AppUser

__all__ = [
    "TOKEN_PREFIX",
    "Principal",
    "authenticate",
    "create_token",
    "create_user",
    "end_sessions",
    "in_background",
    "principal_for_token",
    "revoke_token",
    "session_state",
    "set_password",
    "stamp_login",
    "stamp_token_use",
    "token_rows",
]

log = logging.getLogger(__name__)
TOKEN_PREFIX = "swt_"
_HASHER = PasswordHasher()
# Verified against when the user does not exist, so both cases take the same time.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")
MIN_PASSWORD = 10
USE_STAMP_S = 60  # a token's last use is recorded to the minute


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a signed-in user or an API token, with a role."""

    name: str
    role: str
    kind: str = "session"
    """'session' (a signed-in browser) or 'token' (an API token)."""

    @property
    def is_admin(self) -> bool:
        """Admins may change licences, contract data and plans."""
        return self.role == "admin"


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UsageError(f"Unknown role {role!r}; roles: {', '.join(ROLES)}.")


def create_user(session: Session, username: str, password: str, role: str) -> AppUser:
    """A new local account (UsageError when the name is taken or the password too short)."""
    _check_role(role)
    username = username.strip()
    if not username:
        raise UsageError("A user name cannot be empty.")
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"A password needs at least {MIN_PASSWORD} characters.")
    if session.scalar(select(AppUser.pk).where(AppUser.username == username)) is not None:
        raise UsageError(f"There is already a user called {username!r}.")
    user = AppUser(
        username=username,
        password_hash=_HASHER.hash(password),
        role=role,
        active=True,
        created_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, username: str, password: str, role: str) -> None:
    """Create the account, or give an existing one this password and role (the demo's admin)."""
    user = session.scalar(select(AppUser).where(AppUser.username == username))
    if user is None:
        create_user(session, username, password, role)
        return
    _check_role(role)
    user.password_hash = _HASHER.hash(password)
    user.role = role
    user.active = True
    user.session_epoch += 1  # a new password ends the account's sessions


def authenticate(session: Session, username: str, password: str) -> Principal | None:
    """The account's principal when the password is right, else None (same time either way).
    Reads only: record the sign-in with `stamp_login` in a unit of work of its own."""
    user = session.scalar(select(AppUser).where(AppUser.username == username.strip()))
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    return Principal(user.username, user.role)


def in_background(engine: Engine, write: Callable[..., None], *args: Any) -> None:
    """Run `write(session, *args)` in its own unit of work on a thread: bookkeeping (last
    sign-in, last token use) that must never make a request wait for SQLite's write lock or
    fail because of it."""

    def run() -> None:
        try:
            with session_scope(engine, immediate=True) as session:
                write(session, *args)
        except StoreError:
            log.info("skipped a bookkeeping write: the database was busy")
        except Exception:  # bookkeeping only: never let it take anything else down
            log.warning("a bookkeeping write failed", exc_info=True)

    threading.Thread(target=run, name="seatwise-bookkeeping", daemon=True).start()


# Built once, run with Core on every request: the API token and the signed-in account are
# checked each time, and building the statement would cost more than running it.
_TOKEN_BY_HASH = select(
    ApiToken.pk, ApiToken.name, ApiToken.role, ApiToken.revoked, ApiToken.last_used_at
).where(ApiToken.token_hash == bindparam("digest"))
_ACCOUNT_STATE = select(AppUser.role, AppUser.active, AppUser.session_epoch).where(
    AppUser.username == bindparam("username")
)


def session_state(session: Session, username: str) -> tuple[str, bool, int] | None:
    """(role, active, session epoch) of an account, or None."""
    row = session.connection().execute(_ACCOUNT_STATE, {"username": username}).first()
    return None if row is None else (row.role, bool(row.active), int(row.session_epoch))


def end_sessions(session: Session, username: str) -> None:
    """End every session of the account (signing out)."""
    session.execute(
        update(AppUser)
        .where(AppUser.username == username)
        .values(session_epoch=AppUser.session_epoch + 1)
    )


def stamp_login(session: Session, username: str, password: str) -> None:
    """Record a successful sign-in (and rehash the password if Argon2's parameters grew)."""
    user = session.scalar(select(AppUser).where(AppUser.username == username.strip()))
    if user is None:
        return
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.last_login_at = datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, role: str, created_by: str) -> str:
    """A new API token; the only time its value is shown."""
    _check_role(role)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            name=name,
            token_hash=_digest(token),
            prefix=token[:12],
            role=role,
            created_at=datetime.now(UTC),
            created_by=created_by,
        )
    )
    return token


def principal_for_token(session: Session, token: str) -> tuple[Principal, int, bool] | None:
    """The principal of a valid, unrevoked token, its key, and whether its `last_used_at` is
    stale (over `USE_STAMP_S` old: stamping every request would make every read a write)."""
    row = session.connection().execute(_TOKEN_BY_HASH, {"digest": _digest(token)}).first()
    if row is None or row.revoked:
        return None
    now = datetime.now(UTC)
    stale = row.last_used_at is None or (now - row.last_used_at).total_seconds() > USE_STAMP_S
    return Principal(f"token:{row.name}", row.role, kind="token"), row.pk, stale


def stamp_token_use(session: Session, token_pk: int) -> None:
    """Record that the token was used now."""
    session.execute(
        update(ApiToken).where(ApiToken.pk == token_pk).values(last_used_at=datetime.now(UTC))
    )


def token_rows(session: Session) -> list[ApiToken]:
    """Every API token (values are never stored: the prefix identifies one), newest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.pk.desc())))


def revoke_token(session: Session, token_pk: int) -> str:
    """Revoke a token for good; its name (UsageError when there is no such token)."""
    row = session.get(ApiToken, token_pk)
    if row is None:
        raise UsageError(f"There is no API token {token_pk}.")
    row.revoked = True
    return row.name
