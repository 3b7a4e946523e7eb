"""The roster's page-by-page store (`roster._apply`) against a real SQLite store, with pages as
Graph could send them (the sync tests drive it through the simulator)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from seatwise.store.schema import User
from seatwise.sync.context import TaskContext
from seatwise.sync.roster import _apply


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


def test_a_new_user_listed_on_two_pages_of_a_round_is_new(store_ctx: TaskContext) -> None:
    assert _apply(store_ctx, [[_user(1), _user(2)]], whole=True) == {_user(1)["id"], _user(2)["id"]}
    store_ctx.touched = set()  # the next run's
    pages = [
        [_user(3), _user(1, displayName="Renamed")],
        [_user(3, displayName="Second listing")],
    ]
    joined = _apply(store_ctx, pages, whole=False)
    assert joined == {_user(3)["id"]}  # user 1 was stored before; user 3 is new, twice listed
    names = dict(store_ctx.session.execute(select(User.id, User.display_name)).all())
    assert names[_user(3)["id"]] == "Second listing"  # the last listing is the user's state
    assert names[_user(1)["id"]] == "Renamed"
    assert store_ctx.touched == {_user(1)["id"], _user(3)["id"]}
