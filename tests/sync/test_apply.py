"""The roster's page-by-page store (`roster._apply`) against a real SQLite store, with pages as
Graph could send them (the sync tests drive it through the simulator)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from seatwise.store.schema import LicenseAssignment, User
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


def test_a_whole_read_replaces_the_licences_stored_and_those_of_earlier_pages(
    store_ctx: TaskContext,
) -> None:
    """A whole read over a stored tenant: licences no longer listed go, changed ones change;
    of a user listed on two pages (the last listing counts) the licences of the first go too.
    (The read skips looking up the stored licences of users that cannot have any.)"""

    def held() -> set[tuple[str, str]]:
        query = select(LicenseAssignment.user_id, LicenseAssignment.sku_id)
        return {(user[-4:], sku) for user, sku in store_ctx.session.execute(query).all()}

    e3, e5, pbi = "sku-e3", "sku-e5", "sku-pbi"

    def licensed(*skus: str) -> list[dict[str, Any]]:
        return [{"skuId": sku, "disabledPlans": []} for sku in skus]

    _apply(store_ctx, [[_user(1, assignedLicenses=licensed(e3, pbi)), _user(2)]], whole=True)
    assert held() == {("0001", e3), ("0001", pbi)}
    pages = [
        [_user(1, assignedLicenses=licensed(e5)), _user(3, assignedLicenses=licensed(e3))],
        [_user(2, assignedLicenses=licensed(pbi)), _user(3, assignedLicenses=licensed(e5))],
    ]
    _apply(store_ctx, pages, whole=True)
    assert held() == {("0001", e5), ("0002", pbi), ("0003", e5)}
