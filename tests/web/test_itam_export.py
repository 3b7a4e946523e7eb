"""The ITAM export: CSV and JSON agree with each other and with `seatwise licenses --format json
--all`; a SKU that left the tenant is retired; deactivating the tenant integration from the
Settings page retires all its licences, reactivating restores them, and history is kept.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from seatwise.web.pages.export import ITAM_KEYS
from tests.sync.conftest import Seatwise, serve

from .conftest import Web


def _export(client: httpx.Client) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    as_json = client.get("/export/itam.json")
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"].startswith("application/json")
    as_csv = client.get("/export/itam.csv")
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    reader = csv.DictReader(io.StringIO(as_csv.text))
    assert tuple(reader.fieldnames or ()) == ITAM_KEYS
    return as_json.json(), list(reader)


def _as_csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _agree(records: list[dict[str, Any]], rows: list[dict[str, str]]) -> None:
    assert len(records) == len(rows)
    for record, row in zip(records, rows, strict=True):
        assert tuple(record) == ITAM_KEYS
        assert {k: _as_csv(v) for k, v in record.items()} == row


def _set_active(client: httpx.Client, name: str, action: str) -> None:
    page = client.get("/settings").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    done = client.post(f"/settings/tenants/{name}/{action}", data={"csrf_token": token})
    assert done.status_code == 303, done.text


def test_itam_export_follows_the_licences_and_the_integration_state(
    seatwise: Seatwise, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim") as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        licences = seatwise("licenses", "--format", "json", "--all").json()
        priced, unmanaged = licences[0], licences[1]
        assert seatwise(
            "license", "set", priced["sku_part_number"], "--cost", "12.5", "--currency", "EUR",
            "--payment-frequency", "monthly",
        ).code == 0  # fmt: skip
        assert seatwise("license", "set", unmanaged["sku_part_number"], "--unmanaged").code == 0
        gone = min(sim.tenant.holdings.values(), key=lambda h: sim.tenant.consumed.get(h.sku_id, 0))
        del sim.tenant.holdings[gone.sku_id]
        assert seatwise("sync", "--task", "license-info").code == 0
    cli = {p["sku_id"]: p for p in seatwise("licenses", "--format", "json", "--all").json()}
    users_before = seatwise("users", "--format", "json").out
    web: Web = request.getfixturevalue("web")

    with web.client() as client:
        web.login(client, "viewer")  # any signed-in user may export
        records, rows = _export(client)
    _agree(records, rows)
    assert {r["sku_id"] for r in records} == set(cli)
    for record in records:
        position = cli[record["sku_id"]]
        assert record["tenant"] == "sim" and record["tenant_id"] == sim.tenant.tenant_id
        assert record["publisher"] == "Microsoft"
        assert record["product_name"] == position["name"]
        assert record["sku_part_number"] == position["sku_part_number"]
        assert record["purchased"] == position["purchased"]
        assert record["consumed"] == position["assigned"]
        assert record["available"] == position["available"]
        assert record["managed"] == position["managed"]
        for key in ("cost", "currency", "payment_frequency", "annual_cost", "expiration_date"):
            assert record[key] == position[key], key
        expected = "retired" if record["sku_id"] == gone.sku_id else "active"
        assert record["status"] == expected, record
    by_id = {r["sku_id"]: r for r in records}
    assert by_id[priced["sku_id"]]["annual_cost"] == f"{12.5 * 12 * priced['purchased']:.2f}"
    assert by_id[unmanaged["sku_id"]]["managed"] is False
    assert by_id[unmanaged["sku_id"]]["annual_cost"] is None

    with web.client() as client:
        web.login(client, "admin")
        _set_active(client, "sim", "deactivate")
        retired, retired_rows = _export(client)
        assert "deactivated" in client.get("/settings").text
        _set_active(client, "sim", "reactivate")
        restored, _ = _export(client)
    _agree(retired, retired_rows)
    assert {r["status"] for r in retired} == {"retired"}
    assert all(r["annual_cost"] is None for r in retired)
    assert [r["purchased"] for r in retired] == [r["purchased"] for r in records]
    assert restored == records
    # history kept: the users and licences are as they were
    assert seatwise("users", "--format", "json").out == users_before
    assert {p["sku_id"] for p in seatwise("licenses", "--format", "json", "--all").json()} == set(
        cli
    )


def test_export_needs_a_signed_in_user(web: Web) -> None:
    with web.client() as client:
        for path in ("/export/itam.csv", "/export/itam.json"):
            answer = client.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/login")
        web.login(client, "viewer")
        records, rows = _export(client)
    assert records == [] and rows == []
