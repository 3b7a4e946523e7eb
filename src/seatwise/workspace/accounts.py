"""Local accounts of the web UI and bearer tokens of the reporting API, in the store.

Passwords are hashed with Argon2id (argon2-cffi); API tokens are random and only their SHA-256
is kept, so neither can be read back from the database. Every change an admin makes to an
account or a token (created, disabled, enabled, new password, new role, deleted, revoked) is
written to the audit log with before and after, in the caller's transaction; a new password, a
new role, disabling and deleting end the account's sessions in that same transaction. The last
active admin cannot be disabled, demoted or deleted.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from seatwise.errors import StoreError, UsageError
from seatwise.reclaim.audit import current_actor, record
from seatwise.store import session_scope
from seatwise.store.schema import ROLES, ApiToken, AppUser

__all__ = [
    "MIN_PASSWORD",
    "TOKEN_PREFIX",
    "Principal",
    "account_rows",
    "authenticate",
    "change_password",
    "create_token",
    "create_user",
    "delete_user",
    "end_sessions",
    "end_sessions_now",
    "in_background",
    "principal_for_token",
    "revoke_token",
    "session_state",
    "set_account_active",
    "set_password",
    "set_role",
    "stamp_login",
    "stamp_token_use",
    "token_records",
    "token_rows",
]

log = logging.getLogger(__name__)
TOKEN_PREFIX = "swt_"
_HASHER = PasswordHasher()
# Verified against when the user does not exist, so both cases take the same time.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # Argon2 takes any length; a cap keeps a hostile form from costing more
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


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"A password needs at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise UsageError(f"A password may have at most {MAX_PASSWORD} characters.")


def _check_username(username: str) -> str:
    username = username.strip()
    if not username:
        raise UsageError("A user name cannot be empty.")
    if len(username) > 64 or not username.isprintable():
        raise UsageError("A user name has 1 to 64 printable characters.")
    return username


def _audit(
    session: Session,
    actor: str | None,
    action: str,
    message: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    record(
        session,
        tenant_pk=None,
        actor=actor or current_actor(),
        action=action,
        before=[] if before is None else [before],  # [] : nothing before (made) or after (gone)
        after=[] if after is None else [after],
        message=message,
    )


def _account(user: AppUser) -> dict[str, Any]:
    """What the audit log keeps of an account (never its password hash)."""
    return {"account": user.username, "role": user.role, "active": bool(user.active)}


def create_user(
    session: Session, username: str, password: str, role: str, *, actor: str | None = None
) -> AppUser:
    """A new local account (UsageError when the name is taken or the password too short),
    audited as `account.create`."""
    _check_role(role)
    username = _check_username(username)
    _check_password(password)
    digest = _HASHER.hash(password)  # before the first statement: no lock held meanwhile
    if session.scalar(select(AppUser.pk).where(AppUser.username == username)) is not None:
        raise UsageError(f"There is already a user called {username!r}.")
    user = AppUser(
        username=username,
        password_hash=digest,
        role=role,
        active=True,
        created_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    _audit(session, actor, "account.create", f"Account {username} created.", after=_account(user))
    return user


def _user(session: Session, username: str) -> AppUser:
    user = session.scalar(select(AppUser).where(AppUser.username == username.strip()))
    if user is None:
        raise UsageError(f"There is no user called {username.strip()!r}.")
    return user


def _active_admins(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).where(AppUser.role == "admin", AppUser.active.is_(True))
        )
        or 0
    )


def _keep_an_admin(session: Session, user: AppUser, what: str) -> None:
    """Refuse to leave no active admin (nobody could manage seatwise from the web any more)."""
    if user.role == "admin" and user.active and _active_admins(session) <= 1:
        raise UsageError(
            f"{user.username} is the last active admin and cannot be {what}; make another "
            "account admin first."
        )


def account_rows(session: Session) -> list[dict[str, Any]]:
    """Every local account: name, role, active, created, last sign-in (never the hash)."""
    return [
        {
            "username": user.username,
            "role": user.role,
            "active": bool(user.active),
            "created_at": user.created_at,
            "last_login_at": user.last_login_at,
        }
        for user in session.scalars(select(AppUser).order_by(AppUser.username))
    ]


def set_account_active(
    session: Session, username: str, active: bool, *, actor: str | None = None
) -> bool:
    """Disable (ending its sessions) or enable an account; False when it already was."""
    user = _user(session, username)
    if bool(user.active) == active:
        return False
    if not active:
        _keep_an_admin(session, user, "disabled")
    before = _account(user)
    user.active = active
    user.session_epoch += 1
    word = "enabled" if active else "disabled"
    _audit(
        session,
        actor,
        f"account.{word.removesuffix('d')}",
        f"Account {user.username} {word}.",
        before,
        _account(user),
    )
    return True


def change_password(
    session: Session, username: str, password: str, *, actor: str | None = None
) -> None:
    """Give an account a new password; every session of the account ends."""
    _check_password(password)
    digest = _HASHER.hash(password)  # before the first statement: no lock held meanwhile
    user = _user(session, username)
    user.password_hash = digest
    user.session_epoch += 1
    _audit(
        session,
        actor,
        "account.password",
        f"New password for {user.username}; its sessions ended.",
        _account(user),
        {**_account(user), "password": "changed"},
    )


def set_role(session: Session, username: str, role: str, *, actor: str | None = None) -> bool:
    """Give an account another role (its sessions end); False when it already had it."""
    _check_role(role)
    user = _user(session, username)
    if user.role == role:
        return False
    if role != "admin":
        _keep_an_admin(session, user, "made a viewer")
    before = _account(user)
    user.role = role
    user.session_epoch += 1
    _audit(
        session,
        actor,
        "account.role",
        f"Account {user.username} is now {role}.",
        before,
        _account(user),
    )
    return True


def delete_user(session: Session, username: str, *, actor: str | None = None) -> None:
    """Delete an account for good (its sessions end with it; the audit log keeps its name)."""
    user = _user(session, username)
    _keep_an_admin(session, user, "deleted")
    before = _account(user)
    session.execute(delete(AppUser).where(AppUser.pk == user.pk))
    _audit(session, actor, "account.delete", f"Account {before['account']} deleted.", before)


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


END_SESSIONS_ATTEMPTS = 4


def end_sessions_now(engine: Engine, username: str) -> None:
    """End every session of the account before returning: its own unit of work, tried again
    while the database is busy (a sync holding SQLite's write lock past the busy timeout);
    `StoreError` when it still could not be written, so the caller fails visibly instead of
    leaving copied cookies valid."""
    for attempt in range(1, END_SESSIONS_ATTEMPTS + 1):
        try:
            with session_scope(engine, immediate=True) as session:
                end_sessions(session, username)
            return
        except StoreError:
            if attempt == END_SESSIONS_ATTEMPTS:
                raise StoreError(
                    "Signing out could not be recorded because the database stayed busy; "
                    "your session here has ended, but sign out again to end the others."
                ) from None
            log.info("the database was busy while signing out; trying again")
            time.sleep(0.25 * attempt)


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


def _token(row: ApiToken) -> dict[str, Any]:
    """What the audit log keeps of a token (its prefix, never its value or hash)."""
    return {
        "token": row.pk,
        "name": row.name,
        "prefix": row.prefix,
        "role": row.role,
        "revoked": bool(row.revoked),
    }


def create_token(session: Session, name: str, role: str, created_by: str) -> str:
    """A new API token, audited as `token.create` by `created_by`; the only time its value is
    shown."""
    _check_role(role)
    name = name.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise UsageError("A token needs a name of 1 to 64 printable characters.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        token_hash=_digest(token),
        prefix=token[:12],
        role=role,
        created_at=datetime.now(UTC),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    _audit(session, created_by, "token.create", f"API token {name} created.", after=_token(row))
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


def token_records(session: Session) -> list[dict[str, Any]]:
    """Every API token as `seatwise token list` shows it (the prefix, never the value)."""
    return [
        {
            "id": row.pk,
            "name": row.name,
            "prefix": row.prefix,
            "role": row.role,
            "created_at": row.created_at,
            "created_by": row.created_by,
            "last_used_at": row.last_used_at,
            "revoked": bool(row.revoked),
        }
        for row in token_rows(session)
    ]


def revoke_token(session: Session, token_pk: int, *, actor: str | None = None) -> str:
    """Revoke a token for good, audited as `token.revoke`; its name (UsageError when there is
    no such token). Revoking a revoked token changes nothing and writes nothing."""
    row = session.get(ApiToken, token_pk)
    if row is None:
        raise UsageError(f"There is no API token {token_pk}.")
    if row.revoked:
        return row.name
    before = _token(row)
    row.revoked = True
    _audit(session, actor, "token.revoke", f"API token {row.name} revoked.", before, _token(row))
    return row.name
