"""Registering tenants through the application layer, from the CLI against the simulator over
HTTPS: one validation of names and ids, one registration per Entra tenant id (refused with the
existing name, or superseding it on request), and the roll-up `seatwise tenant list` prints.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from seatwise.config import load_settings
from seatwise.web.pages.export import itam_rows
from seatwise.workspace import Workspace
from seatwise.workspace.rollup import KEYS
from tests.sync.conftest import Seatwise, serve


@pytest.mark.parametrize("name", ["bad\r\nname", "<b>x</b>", "", ".starts-with-a-dot", "x" * 65])
def test_names_the_ui_refuses_the_cli_refuses(
    seatwise: Seatwise, tmp_path: Path, name: str
) -> None:
    with serve(tmp_path / "sim", users=20) as sim:
        refused = seatwise.add_app_only(sim, name)
    assert refused.code == 2, refused
    assert "A tenant name must be 1 to 64 letters" in refused.err
    assert "Traceback" not in refused.err
    assert seatwise("tenant", "list", "--format", "json").json() == []


def test_one_registration_per_tenant_id_and_supersede(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=30) as sim:
        assert seatwise.add_app_only(sim, "old").code == 0
        assert seatwise("sync", "--tenant", "old").code == 0

        twice = seatwise.add_app_only(sim, "new")
        assert twice.code == 2
        assert f"tenant {sim.tenant.tenant_id} is already registered as old" in twice.err
        assert "--supersede old" in twice.err

        unknown = seatwise.add_app_only(sim, "new", "--supersede", "nobody")
        assert unknown.code == 2 and "no tenant called 'nobody'" in unknown.err

        taken = seatwise.add_app_only(sim, "new", "--supersede", "old")
        assert taken.code == 0, taken.err
        assert "Tenant old is retired" in taken.err

        refused = seatwise("sync", "--tenant", "old")
        assert refused.code == 2 and "superseded by new" in refused.err
        # The only current registration: --tenant may be left out.
        assert seatwise("sync", "--task", "license-info").code == 0

        listed = {r["name"]: r for r in seatwise("tenant", "list", "--format", "json").json()}
        assert listed["old"]["status"] == "superseded"
        assert listed["new"]["status"] == "active"
        assert listed["old"]["potential_savings"] == {}

    settings = load_settings()
    with Workspace(settings) as workspace, workspace.session() as session:
        rows = itam_rows(session)
    old_rows = [r for r in rows if r["tenant"] == "old"]
    assert old_rows and all(r["status"] == "retired" for r in old_rows)


def test_a_different_tenant_cannot_be_superseded(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "a", users=20, seed=1) as first:
        assert seatwise.add_app_only(first, "first").code == 0
    with serve(tmp_path / "b", users=20, seed=2) as second:
        refused = seatwise.add_app_only(second, "second", "--supersede", "first")
        assert refused.code == 2
        assert "only a registration of the same tenant can be superseded" in refused.err
        assert seatwise.add_app_only(second, "second").code == 0
    names = [r["name"] for r in seatwise("tenant", "list", "--format", "json").json()]
    assert names == ["first", "second"]


def test_tenant_list_rolls_up_each_tenant(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=40) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        listed = seatwise("tenant", "list", "--format", "json").json()
        users = seatwise("users", "--format", "json").json()
        paid = [
            p
            for p in seatwise("licenses", "--format", "json").json()
            if p["license_type"] == "paid"
        ]
    assert len(listed) == 1
    row = listed[0]
    assert tuple(row) == KEYS
    live = [u for u in users if u["deactivated_date"] is None]
    assert row["users"] == len(live)
    assert row["licensed_users"] == len([u for u in live if u["licenses"]]) > 0
    assert row["paid_purchased"] == sum(p["purchased"] for p in paid) > 0
    assert row["paid_assigned"] == sum(p["assigned"] for p in paid) > 0
    assert row["paid_unused"] == sum(max(p["available"], 0) for p in paid)
    assert row["status"] == "active" and row["annual_cost"] == {}  # no prices entered
    assert row["last_sync_status"] == "succeeded"
    assert 0 <= row["last_sync_age_hours"] < 1

    table = seatwise("tenant", "list")
    assert table.code == 0 and "name" in table.out and "sim" in table.out
    assert "paid unused" in table.out  # a header
    as_csv = list(csv.reader(io.StringIO(seatwise("tenant", "list", "--format", "csv").out)))
    assert tuple(as_csv[0]) == KEYS and as_csv[1][0] == "sim"
