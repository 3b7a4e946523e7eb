"""Sign-ins in progress kept in the database (`seatwise.web.oauth`): found by state and answered
once, taken once, shared by two app instances over one database, expired after the TTL, capped,
and nothing in the row in plain text (SQLite, and PostgreSQL when configured).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from seatwise.config import load_settings
from seatwise.store.schema import PendingSignIn as SignInRow
from seatwise.web import oauth
from seatwise.web.app import create_app
from seatwise.web.oauth import PENDING_MAX, PENDING_TTL_S, PendingSignIn
from seatwise.web.state import WebState
from tests.sync.conftest import Seatwise

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECRET = "client-secret-Q7~not.in.the.database"
VERIFIER = "pkce-verifier-3f9a0c1e2d4b5a6978"


def _item(state: str, at: datetime = T0) -> PendingSignIn:
    flow = {"state": state, "code_verifier": VERIFIER, "redirect_uri": "http://x/cb"}
    return PendingSignIn("contoso", "tid", "cid", SECRET, flow, "admin", at)


@pytest.fixture
def apps(seatwise: Seatwise) -> Iterator[list[WebState]]:
    """Two web app instances over the same database (as two worker processes would be)."""
    del seatwise  # its environment is what load_settings reads
    states = [create_app(load_settings()).state.web for _ in range(2)]
    try:
        yield states
    finally:
        for state in states:
            state.engine.dispose()


def _add(state: WebState, item: PendingSignIn) -> str:
    with state.session(write=True) as session:
        return oauth.add(session, state.secrets, item)


def _answer(state: WebState, params: dict[str, str]) -> bool:
    with state.session(write=True) as session:
        return oauth.answer(session, state.secrets, params)


def _take(state: WebState, key: str, now: datetime = T0) -> PendingSignIn | None:
    with state.session(write=True) as session:
        return oauth.take(session, state.secrets, key, now=now)


def _count(state: WebState) -> int:
    with state.session() as session:
        return session.scalar(select(func.count()).select_from(SignInRow)) or 0


def test_matched_by_state_answered_once_and_taken_once(apps: list[WebState]) -> None:
    state = apps[0]
    first, second = _add(state, _item("s1")), _add(state, _item("s2"))
    assert SECRET not in repr(_item("s1")) and VERIFIER not in repr(_item("s1"))
    assert not _answer(state, {"code": "c"})  # no state: no sign-in
    assert not _answer(state, {"code": "c", "state": "other"})
    assert _answer(state, {"code": "c1", "state": "s1"})
    assert not _answer(state, {"code": "again", "state": "s1"})  # answered once only
    taken = _take(state, first)
    assert taken is not None and taken.answer == {"code": "c1", "state": "s1"}
    assert (taken.name, taken.tenant_id, taken.client_id, taken.secret) == (
        "contoso",
        "tid",
        "cid",
        SECRET,
    )
    assert taken.flow["code_verifier"] == VERIFIER and taken.state == "s1"
    assert (taken.started_by, taken.started_at) == ("admin", T0)
    assert _take(state, first) is None  # taken once
    unanswered = _take(state, second)
    assert unanswered is not None and unanswered.answer is None
    assert _count(state) == 0


def test_started_in_one_app_finished_in_another(apps: list[WebState]) -> None:
    one, other = apps
    key = _add(one, _item("shared"))
    assert _answer(other, {"code": "c", "state": "shared"})
    taken = _take(other, key)
    assert taken is not None and taken.answer == {"code": "c", "state": "shared"}
    assert taken.secret == SECRET
    assert _take(one, key) is None


def test_expired_sign_in_cannot_be_redeemed_and_is_deleted(apps: list[WebState]) -> None:
    state = apps[0]
    key = _add(state, _item("late"))
    assert _answer(state, {"code": "c", "state": "late"})
    assert _take(state, key, T0 + timedelta(seconds=PENDING_TTL_S + 1)) is None
    assert _count(state) == 0  # taking it removed it all the same

    stale = _add(state, _item("stale"))
    assert _take(state, stale, T0 + timedelta(seconds=PENDING_TTL_S)) is not None  # just in time
    stale = _add(state, _item("stale"))
    fresh = _add(state, _item("fresh", T0 + timedelta(seconds=PENDING_TTL_S + 1)))
    assert _count(state) == 1  # adding a sign-in deleted the expired one
    assert _take(state, stale) is None
    assert _take(state, fresh, T0 + timedelta(seconds=PENDING_TTL_S + 2)) is not None


def test_at_most_pending_max_the_oldest_dropped(apps: list[WebState]) -> None:
    state = apps[0]
    keys = [_add(state, _item(f"s{n}", T0 + timedelta(seconds=n))) for n in range(PENDING_MAX + 2)]
    assert _count(state) == PENDING_MAX
    later = T0 + timedelta(seconds=PENDING_MAX + 2)
    assert _take(state, keys[0], later) is None and _take(state, keys[1], later) is None
    assert _take(state, keys[2], later) is not None and _take(state, keys[-1], later) is not None


def test_nothing_in_the_row_in_plain_text(apps: list[WebState]) -> None:
    state = apps[0]
    key = _add(state, _item("state-4d1c9e"))
    assert _answer(state, {"code": "auth-code-8b2e7f", "state": "state-4d1c9e"})
    with state.session() as session:
        rows = session.execute(text("SELECT * FROM pending_sign_in")).mappings().all()
    assert len(rows) == 1
    row: dict[str, Any] = dict(rows[0])
    stored = b"|".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row.values()
    )
    for plain in (SECRET, VERIFIER, "state-4d1c9e", "auth-code-8b2e7f", key):
        assert plain.encode() not in stored, plain
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert row["state_hash"] == hashlib.sha256(b"state-4d1c9e").hexdigest()
    assert row["started_by"] == "admin"
