"""Authorizing a tenant from the browser: sign-ins in progress (the MSAL flow with its PKCE
verifier, and the client secret of a new tenant) kept in the database, encrypted, never in the
cookie, so every web process shares them. Credentials are stored by
`seatwise.store.tenants.store_tenant`, as the CLI does.

The identity platform answers with form_post: a cross-site POST that carries no SameSite=Lax
session cookie. So the callback only parks the answer with the sign-in whose OAuth `state` it
names, and redirects the browser to a same-site GET, where the session identifies the sign-in
and the answer is redeemed (MSAL checks `state` again, and PKCE binds the code to our verifier).
Either request may reach any process.

A row of `pending_sign_in` holds the SHA-256 of the random id the user's signed session holds
and of the OAuth `state`, never either itself; the sign-in and the parked answer are sealed with
the installation's `SecretBox`. The functions here never commit: call them inside
`WebState.session(write=True)`, which on SQLite takes the write lock up front.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from seatwise.secrets import SecretBox
from seatwise.store.schema import PendingSignIn as SignInRow

__all__ = ["PENDING_MAX", "PENDING_TTL_S", "PendingSignIn", "add", "answer", "take"]

# A sign-in left unfinished this long is forgotten (the authorization code lives ~10 minutes).
PENDING_TTL_S = 15 * 60
# At most this many sign-ins in progress at once: the oldest are dropped first.
PENDING_MAX = 64

_TTL = timedelta(seconds=PENDING_TTL_S)


@dataclass
class PendingSignIn:
    """One sign-in in progress. `repr` leaves out the secret, the flow and the answer."""

    name: str
    tenant_id: str
    client_id: str
    secret: str = field(repr=False)
    flow: dict[str, Any] = field(repr=False)
    started_by: str
    started_at: datetime
    answer: dict[str, str] | None = field(default=None, repr=False)

    @property
    def state(self) -> str:
        """The OAuth `state` the identity platform echoes back."""
        return str(self.flow.get("state") or "")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def add(session: Session, box: SecretBox, item: PendingSignIn) -> str:
    """Keep `item`, started at `item.started_at`; its id (for the session). Sign-ins older than
    `PENDING_TTL_S` then are deleted, and the oldest beyond `PENDING_MAX`."""
    session.execute(delete(SignInRow).where(SignInRow.started_at < item.started_at - _TTL))
    kept = session.scalar(select(func.count()).select_from(SignInRow)) or 0
    if kept >= PENDING_MAX:
        oldest = select(SignInRow.key_hash).order_by(SignInRow.started_at)
        dropped = session.scalars(oldest.limit(kept - PENDING_MAX + 1)).all()
        session.execute(delete(SignInRow).where(SignInRow.key_hash.in_(dropped)))
    payload = {
        "name": item.name,
        "tenant_id": item.tenant_id,
        "client_id": item.client_id,
        "secret": item.secret,
        "flow": item.flow,
    }
    key = secrets.token_urlsafe(24)
    session.add(
        SignInRow(
            key_hash=_digest(key),
            state_hash=_digest(item.state),
            payload_enc=box.seal(orjson.dumps(payload).decode()),
            answer_enc=None,
            started_by=item.started_by,
            started_at=item.started_at,
        )
    )
    return key


def answer(session: Session, box: SecretBox, params: Mapping[str, str]) -> bool:
    """Park the identity platform's answer with the sign-in whose `state` it carries; False
    when no sign-in in progress has that state, or it was answered already."""
    state = params.get("state") or ""
    if not state:
        return False
    query = (
        select(SignInRow)
        .where(SignInRow.state_hash == _digest(state), SignInRow.answer_enc.is_(None))
        .limit(1)
        .with_for_update()  # PostgreSQL: a concurrent answer waits, then finds it answered
    )
    found = session.scalars(query).first()
    if found is None:
        return False
    found.answer_enc = box.seal(orjson.dumps(dict(params)).decode())
    return True


def take(session: Session, box: SecretBox, key: str, *, now: datetime) -> PendingSignIn | None:
    """Remove and return the sign-in `key` (None when unknown, or expired at `now`)."""
    found = session.get(SignInRow, _digest(key), with_for_update=True)
    if found is None:
        return None
    session.delete(found)
    if found.started_at < now - _TTL:
        return None
    payload = orjson.loads(box.open(found.payload_enc))
    parked = orjson.loads(box.open(found.answer_enc)) if found.answer_enc is not None else None
    return PendingSignIn(
        name=payload["name"],
        tenant_id=payload["tenant_id"],
        client_id=payload["client_id"],
        secret=payload["secret"],
        flow=payload["flow"],
        started_by=found.started_by,
        started_at=found.started_at,
        answer=parked,
    )
