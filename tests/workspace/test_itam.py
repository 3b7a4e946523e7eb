"""The hybrid ITAM position from the CLI (`seatwise export itam`), against two simulated tenants
over HTTPS, on SQLite and PostgreSQL: unmanaged SKUs are left out, an expired contract is
flagged, a deactivated and a superseded tenant's licences are retired, the named-user
consumption rows are the users' licences of managed SKUs, and CSV, JSON and `--output` agree.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from seatwise.analytics.itam import CONSUMPTION_KEYS, ITAM_KEYS
from seatwise.config import load_settings
from seatwise.workspace import Workspace
from seatwise.workspace.tenants import set_active
from tests.sync.conftest import Seatwise, serve


def _export(seatwise: Seatwise, *args: str) -> list[dict[str, Any]]:
    done = seatwise("export", "itam", "--format", "json", *args)
    assert done.code == 0, done.err
    records: list[dict[str, Any]] = done.json()
    keys = CONSUMPTION_KEYS if "--consumption" in args else ITAM_KEYS
    assert all(tuple(r) == keys for r in records)
    return records


def _as_csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(value)
    return str(value)


def _csv_agrees(text: str, records: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == keys
    rows = list(reader)
    assert rows == [{k: _as_csv(r[k]) for k in keys} for r in records]


def _licences(seatwise: Seatwise, tenant: str) -> list[dict[str, Any]]:
    done = seatwise("licenses", "--tenant", tenant, "--format", "json", "--all")
    assert done.code == 0, done.err
    return list(done.json())


def test_export_itam_position_and_consumption(seatwise: Seatwise, tmp_path: Path) -> None:
    with (
        serve(tmp_path / "a", users=40, seed=1) as first,
        serve(tmp_path / "b", users=30, seed=2) as second,
    ):
        assert seatwise.add_app_only(first, "old").code == 0
        assert seatwise("sync", "--tenant", "old").code == 0
        assert seatwise.add_app_only(second, "other").code == 0
        assert seatwise("sync", "--tenant", "other").code == 0

        held = [p for p in _licences(seatwise, "old") if p["assigned"] > 0]
        expired, unmanaged = held[0], held[1]
        assert seatwise(
            "license", "set", expired["sku_part_number"], "--tenant", "old", "--cost", "8.25",
            "--currency", "EUR", "--payment-frequency", "monthly", "--effective-date",
            "2019-01-01", "--expiration-date", "2020-12-31",
        ).code == 0  # fmt: skip
        assert (
            seatwise(
                "license", "set", unmanaged["sku_part_number"], "--tenant", "old", "--unmanaged"
            ).code
            == 0
        )

        records = _export(seatwise)
        by_key = {(r["tenant"], r["sku_id"]): r for r in records}
        old = {p["sku_id"]: p for p in _licences(seatwise, "old")}
        assert ("old", unmanaged["sku_id"]) not in by_key  # unmanaged: not in the position
        assert {s for t, s in by_key if t == "old"} == set(old) - {unmanaged["sku_id"]}
        row = by_key[("old", expired["sku_id"])]
        assert row["status"] == "expired"
        assert row["purchased"] == expired["purchased"] and row["consumed"] == expired["assigned"]
        assert row["cost"] == "8.25" and row["currency"] == "EUR"
        assert row["annual_cost"] == f"{8.25 * 12 * expired['purchased']:.2f}"
        assert row["effective_date"] == "2019-01-01" and row["expiration_date"] == "2020-12-31"
        others = [r for r in records if r["sku_id"] != expired["sku_id"] or r["tenant"] != "old"]
        assert {r["status"] for r in others} == {"active"}
        assert [r["tenant"] for r in records] == sorted(r["tenant"] for r in records)

        # --tenant, CSV on stdout and --output give the same records
        only = _export(seatwise, "--tenant", "other")
        assert only == [r for r in records if r["tenant"] == "other"] and only
        as_csv = seatwise("export", "itam", "--format", "csv")
        assert as_csv.code == 0, as_csv.err
        _csv_agrees(as_csv.out, records, ITAM_KEYS)
        target = tmp_path / "itam.csv"
        assert seatwise("export", "itam", "--output", str(target)).code == 0
        assert target.read_bytes().decode() == as_csv.out
        as_json = tmp_path / "itam.json"
        assert seatwise("export", "itam", "--format", "json", "--output", str(as_json)).code == 0
        assert json.loads(as_json.read_text(encoding="utf-8")) == records

        # named-user consumption: every user's licences of the position's SKUs
        consumption = _export(seatwise, "--consumption")
        users = seatwise("users", "--tenant", "old", "--format", "json").json()
        managed = {s for t, s in by_key if t == "old"}
        expected: dict[tuple[str, str], set[str | None]] = {}
        for user in users:
            for lic in user["licenses"]:
                if lic["sku_id"] in managed:
                    expected.setdefault((user["upn"], lic["sku_id"]), set()).add(
                        lic["assigned_by_group"]
                    )
        got = {(r["upn"], r["sku_id"]): r for r in consumption if r["tenant"] == "old"}
        assert set(got) == set(expected) and got
        for key, vias in expected.items():
            assert got[key]["assigned_directly"] == (None in vias)
            assert got[key]["assigned_by_groups"] == sorted(v for v in vias if v)
            assert got[key]["status"] == by_key[("old", key[1])]["status"]
        assert not any(r["sku_id"] == unmanaged["sku_id"] for r in got.values())
        per_sku = dict.fromkeys(managed, 0)
        for _upn, sku in got:
            per_sku[sku] += 1
        for sku in managed:  # consumption rows reconcile with the units consumed
            assert per_sku[sku] == by_key[("old", sku)]["consumed"], sku
        as_csv = seatwise("export", "itam", "--consumption", "--format", "csv")
        _csv_agrees(as_csv.out, consumption, CONSUMPTION_KEYS)

        # a deactivated tenant and a superseded one: every licence retired, no annual cost
        with Workspace(load_settings()) as workspace:
            set_active(workspace, "other", False)
        assert seatwise.add_app_only(first, "new", "--supersede", "old").code == 0
        assert seatwise("sync", "--tenant", "new").code == 0
        after = _export(seatwise)
    for name in ("old", "other"):
        mine = [r for r in after if r["tenant"] == name]
        assert mine and {r["status"] for r in mine} == {"retired"}, name
        assert all(r["annual_cost"] is None for r in mine)
    assert [r["purchased"] for r in after if r["tenant"] == "other"] == [
        r["purchased"] for r in records if r["tenant"] == "other"
    ]
    new = [r for r in after if r["tenant"] == "new"]
    assert new and {r["status"] for r in new} <= {"active", "expired"}
    retired_use = [r for r in _export(seatwise, "--consumption") if r["tenant"] == "old"]
    assert retired_use and {r["status"] for r in retired_use} == {"retired"}


def test_export_itam_refuses_bad_input(seatwise: Seatwise, tmp_path: Path) -> None:
    empty = seatwise("export", "itam", "--format", "json")
    assert empty.code == 0 and empty.json() == []
    unknown = seatwise("export", "itam", "--tenant", "nobody")
    assert unknown.code == 2 and "no tenant called 'nobody'" in unknown.err
    bad = seatwise("export", "itam", "--format", "xml")
    assert bad.code == 2
    nowhere = seatwise("export", "itam", "--output", str(tmp_path / "missing" / "itam.csv"))
    assert nowhere.code == 5 and "Cannot write" in nowhere.err
    assert "Traceback" not in nowhere.err
