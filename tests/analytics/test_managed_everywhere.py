"""An unmanaged SKU is left out of the Users view and the activity figures (DESIGN §5): not
shown, not matched, not counted, unless the view is asked to include unmanaged licences. The pure
rules first, then `seatwise users` and `seatwise activity` (per user, --summary,
--differentiation) against a synced simulated tenant on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from seatwise import services
from seatwise.analytics import activity as view
from tests.sync import conftest as e2e
from tests.sync.conftest import Seatwise, serve

database_url = e2e.database_url  # the e2e fixtures, parametrised over SQLite and PostgreSQL
seatwise = e2e.seatwise

PLANS = {
    "suite": {"p-exo": "EXCHANGE_S_ENTERPRISE", "p-teams": "TEAMS1"},
    "pbi": {"p-pbi": "BI_AZURE_P2"},
}


def test_a_left_out_sku_includes_no_service() -> None:
    kept = view.LicenceCatalog(PLANS)
    left = view.LicenceCatalog(PLANS, left_out={"pbi"})
    assert kept.services_of("pbi", None) == {services.POWER_BI}
    assert left.services_of("pbi", None) == frozenset()
    assert left.services_of("suite", None) == kept.services_of("suite", None)


def test_differentiation_leaves_out_the_skus_named() -> None:
    rows = [
        {"sku_id": s, "service": svc, "holders": 3, "active_users": 1, "as_of": date(2026, 11, 17)}
        for s, svc in (("suite", services.TEAMS), ("pbi", services.POWER_BI))
    ]
    names = {"suite": ("SUITE", "Suite"), "pbi": ("PBI", "Power BI Pro")}
    assert {r["sku_id"] for r in view.differentiation(rows, names)} == {"suite", "pbi"}
    assert {r["sku_id"] for r in view.differentiation(rows, names, left_out={"pbi"})} == {"suite"}


@dataclass
class Tenant:
    """A synced tenant with one SKU its users hold marked unmanaged."""

    cli: Seatwise
    sku: dict[str, Any]  # the unmanaged SKU's `seatwise licenses` record


def _json(cli: Seatwise, *args: str) -> Any:
    result = cli(*args, "--format", "json")
    assert result.code == 0, result.err
    return result.json()


def _holders(users: list[dict[str, Any]], sku_id: str) -> set[str]:
    return {u["id"] for u in users if any(lic["sku_id"] == sku_id for lic in u["licenses"])}


@pytest.fixture
def tenant(seatwise: Seatwise, tmp_path: Path) -> Iterator[Tenant]:
    with serve(tmp_path / "sim", users=150, seed=11) as sim:
        assert seatwise.add_app_only(sim).code == 0
        synced = seatwise("sync")
        assert synced.code == 0, synced.err
        users = _json(seatwise, "users")
        licences = [lic for lic in _json(seatwise, "licenses") if lic["assigned"]]
        # The most held SKU whose holders also hold others: the view must keep those.
        sku = max(licences, key=lambda lic: len(_holders(users, lic["sku_id"])))
        assert _holders(users, sku["sku_id"])
        done = seatwise("license", "set", sku["sku_part_number"], "--unmanaged")
        assert done.code == 0, done.err
        yield Tenant(seatwise, sku)


def test_users_view_hides_unmanaged_licences_unless_asked(tenant: Tenant) -> None:
    sku_id, part = tenant.sku["sku_id"], tenant.sku["sku_part_number"]
    default = _json(tenant.cli, "users")
    everything = _json(tenant.cli, "users", "--include-unmanaged")
    assert len(default) == len(everything)  # users stay; only the licence goes
    assert not _holders(default, sku_id)
    holders = _holders(everything, sku_id)
    assert holders
    assert _json(tenant.cli, "users", "--license", part) == []
    matched = _json(tenant.cli, "users", "--license", part, "--include-unmanaged")
    assert {u["id"] for u in matched} == holders
    # The other licences of the same users are still shown.
    by_id = {u["id"]: u for u in default}
    for user in everything:
        kept = [lic for lic in user["licenses"] if lic["sku_id"] != sku_id]
        assert by_id[user["id"]]["licenses"] == kept
    # Paged output (--limit) follows the same rule.
    page = _json(tenant.cli, "users", "--limit", "500")
    assert not _holders(page, sku_id)
    name = tenant.sku["name"].casefold()  # the CSV names each licence
    csv = tenant.cli("users", "--format", "csv")
    assert csv.code == 0 and name not in csv.out.casefold()
    assert name in tenant.cli("users", "--format", "csv", "--include-unmanaged").out.casefold()


def test_activity_summary_and_differentiation_leave_unmanaged_out(tenant: Tenant) -> None:
    sku_id = tenant.sku["sku_id"]
    kept = _json(tenant.cli, "activity", "--differentiation")
    every = _json(tenant.cli, "activity", "--differentiation", "--include-unmanaged")
    assert sku_id not in {r["sku_id"] for r in kept}
    included = {r["service"] for r in every if r["sku_id"] == sku_id}
    assert included
    assert [r for r in every if r["sku_id"] != sku_id] == kept
    summary = {r["service"]: r for r in _json(tenant.cli, "activity", "--summary")}
    wider = {
        r["service"]: r for r in _json(tenant.cli, "activity", "--summary", "--include-unmanaged")
    }
    # Fewer licensed users in a service the unmanaged SKU gives, never more anywhere.
    assert all(summary[s]["licensed"] <= wider[s]["licensed"] for s in summary)
    assert any(summary[s]["licensed"] < wider[s]["licensed"] for s in included)
    # Per user: a service only the unmanaged licence gives is no longer "never" used.
    narrow = _json(tenant.cli, "activity")
    broad = _json(tenant.cli, "activity", "--include-unmanaged")
    assert len(narrow) == len(broad)
    nevers = sum(v == view.NEVER for r in narrow for v in r.values())
    assert nevers < sum(v == view.NEVER for r in broad for v in r.values())
