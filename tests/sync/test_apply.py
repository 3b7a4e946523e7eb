"""The roster's page-by-page store (`roster._apply`) against a real SQLite store, with pages as
Graph could send them (the sync tests drive it through the simulator)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from seatwise.store import ensure_schema, make_engine, session_scope
from seatwise.store.schema import Tenant, User
from seatwise.sync.context import TaskContext
from seatwise.sync.roster import _apply

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _user(n: int, **changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "userPrincipalName": f"user{n}@contoso.test",
        "displayName": f"User {n}",
        "accountEnabled": True,
        "assignedLicenses": [],
    }
    item.update(changes)
    return item


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[TaskContext]:
    engine = make_engine(f"sqlite:///{tmp_path / 'seatwise.db'}")
    ensure_schema(engine)
    try:
        with session_scope(engine) as session:
            tenant = Tenant(
                name="t",
                tenant_id="t",
                client_id="c",
                auth_mode="app",
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(tenant)
            session.flush()
            client: Any = None  # `_apply` only stores the pages it is given
            yield TaskContext(task="roster", session=session, client=client, tenant=tenant, now=NOW)
    finally:
        engine.dispose()


def test_a_new_user_listed_on_two_pages_of_a_round_is_new(ctx: TaskContext) -> None:
    assert _apply(ctx, [[_user(1), _user(2)]], whole=True) == {_user(1)["id"], _user(2)["id"]}
    ctx.touched = set()  # the next run's
    pages = [
        [_user(3), _user(1, displayName="Renamed")],
        [_user(3, displayName="Second listing")],
    ]
    joined = _apply(ctx, pages, whole=False)
    assert joined == {_user(3)["id"]}  # user 1 was stored before; user 3 is new, twice listed
    names = dict(ctx.session.execute(select(User.id, User.display_name)).all())
    assert names[_user(3)["id"]] == "Second listing"  # the last listing is the user's state
    assert names[_user(1)["id"]] == "Renamed"
    assert ctx.touched == {_user(1)["id"], _user(3)["id"]}
