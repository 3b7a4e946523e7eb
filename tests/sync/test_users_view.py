"""`seatwise users` filters, sorting and paging, on a synced simulated tenant."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from seatwise.analytics.users import KEYS

from .conftest import Seatwise, serve


@pytest.fixture
def synced(seatwise: Seatwise, tmp_path: Path) -> Seatwise:
    with serve(tmp_path / "sim", users=150, seed=11) as sim:
        seatwise.add_app_only(sim)
        assert seatwise("sync").code == 0
    return seatwise


def _users(seatwise: Seatwise, *args: str) -> list[dict]:  # type: ignore[type-arg]
    result = seatwise("users", "--format", "json", *args)
    assert result.code == 0, result.err
    records = result.json()
    assert all(list(r) == list(KEYS) for r in records)
    return records  # type: ignore[no-any-return]


def test_filters(synced: Seatwise) -> None:
    everyone = _users(synced)
    assert len(everyone) == 150
    some = _users(synced, "--upn", "AN")
    assert some and all("an" in u["upn"].lower() for u in some)
    assert len(some) == sum("an" in u["upn"].lower() for u in everyone)
    e3 = _users(synced, "--license", "spe_e3")
    assert e3 and all(any(lic["sku_part_number"] == "SPE_E3" for lic in u["licenses"]) for u in e3)
    assert len(e3) == sum(
        any(lic["sku_part_number"] == "SPE_E3" for lic in u["licenses"]) for u in everyone
    )
    for flag, key, value in (
        ("--guest", "guest", True),
        ("--no-guest", "guest", False),
        ("--blocked", "block_credentials", True),
        ("--no-blocked", "block_credentials", False),
        ("--mfa", "mfa_enabled", True),
        ("--no-mfa", "mfa_enabled", False),
    ):
        chosen = _users(synced, flag)
        assert chosen and all(u[key] is value for u in chosen), flag
        assert len(chosen) == sum(u[key] is value for u in everyone), flag
    country = next(u["country"] for u in everyone if u["country"])
    local = _users(synced, "--country", country.upper())
    assert local and all(u["country"] == country for u in local)


def test_inactivity_filter(synced: Seatwise) -> None:
    everyone = _users(synced)
    inactive = _users(synced, "--inactive-days", "60")
    assert inactive
    ids = {u["id"] for u in inactive}
    reference = max(date.fromisoformat(u["last_activity"]) for u in everyone if u["last_activity"])
    for user in everyone:
        if user["last_activity"] is None:
            assert user["id"] in ids
        elif date.fromisoformat(user["last_activity"]) > reference:
            continue  # sign-in activity newer than the reports' refresh date
        elif date.fromisoformat(user["last_activity"]) > reference - timedelta(days=55):
            assert user["id"] not in ids


def test_sort_and_pages(synced: Seatwise) -> None:
    by_mail = _users(synced, "--sort", "-mail_usage_mb")
    sizes = [u["mail_usage_mb"] for u in by_mail if u["mail_usage_mb"] is not None]
    assert sizes == sorted(sizes, reverse=True)
    assert all(u["mail_usage_mb"] is None for u in by_mail[len(sizes) :])  # nulls last
    by_activity = _users(synced, "--sort", "last_activity")
    days = [u["last_activity"] for u in by_activity if u["last_activity"]]
    assert days == sorted(days)
    pages = [
        _users(synced, "--sort", "display_name", "--limit", "40", "--offset", str(o))
        for o in range(0, 160, 40)
    ]
    assert [u["id"] for page in pages for u in page] == [
        u["id"] for u in _users(synced, "--sort", "display_name")
    ]


def test_bad_sort_is_a_usage_error(synced: Seatwise) -> None:
    result = synced("users", "--sort", "shoe_size")
    assert result.code == 2
    assert "Cannot sort by 'shoe_size'" in result.err and "Traceback" not in result.err


def _in_view_order(users: list[dict], key: str, descending: bool) -> list[str]:  # type: ignore[type-arg]
    """Ids in the view's order: by `key` (nulls last either way), ties by id ascending."""
    by_id = sorted(users, key=lambda u: u["id"])
    present = sorted(
        (u for u in by_id if u[key] is not None), key=lambda u: u[key], reverse=descending
    )  # stable, so ties keep the id order even when reversed
    return [u["id"] for u in present] + [u["id"] for u in by_id if u[key] is None]


def test_exact_order_with_ties_and_combined_filters(synced: Seatwise) -> None:
    """The paging indexes (some descending) must not change the order: ties go by id ascending,
    nulls last, in both directions; combined filters and pages agree with the full list."""
    everyone = _users(synced)
    for key, column in (
        ("last_activity", "last_activity"),
        ("mail_usage_mb", "mail_usage_mb"),
        ("display_name", "display_name"),
        ("last_sign_in", "last_sign_in"),
        ("country", "country"),
    ):
        for descending in (False, True):
            sort = ("-" if descending else "") + key
            got = [u["id"] for u in _users(synced, "--sort", sort)]
            assert got == _in_view_order(everyone, column, descending), sort
    days = [u["last_activity"] for u in everyone]
    assert len(set(days)) < len(days)  # the tenant has ties to break
    chosen = [
        u
        for u in everyone
        if u["mfa_enabled"] is False
        and any(lic["sku_part_number"] == "SPE_E3" for lic in u["licenses"])
    ]
    assert len(chosen) > 8
    full = _in_view_order(chosen, "last_activity", True)
    page = _users(
        synced, "--license", "SPE_E3", "--no-mfa", "--sort", "-last_activity",
        "--limit", "5", "--offset", "3",
    )  # fmt: skip
    assert [u["id"] for u in page] == full[3:8]
