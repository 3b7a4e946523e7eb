"""The ITAM export: CSV and JSON agree with each other, with `seatwise licenses --format json
--all` and with `seatwise export itam`; unmanaged SKUs are left out; a SKU that left the tenant
is retired; deactivating the tenant integration from the Settings page retires all its licences,
reactivating restores them, and history is kept. The API's `itam` and `itam_consumption` sets,
read with a viewer token page by page, hold the CLI's records.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from seatwise.web.pages.export import CONSUMPTION_KEYS, ITAM_KEYS, to_csv
from tests.sync.conftest import Seatwise, serve

from .conftest import Web


def _export(
    client: httpx.Client, stem: str = "itam"
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    as_json = client.get(f"/export/{stem}.json")
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"].startswith("application/json")
    as_csv = client.get(f"/export/{stem}.csv")
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    reader = csv.DictReader(io.StringIO(as_csv.text, newline=""))
    keys = ITAM_KEYS if stem == "itam" else CONSUMPTION_KEYS
    assert tuple(reader.fieldnames or ()) == keys
    return as_json.json(), list(reader)


def _as_csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(value)
    return str(value)


def _agree(
    records: list[dict[str, Any]], rows: list[dict[str, str]], keys: tuple[str, ...] = ITAM_KEYS
) -> None:
    assert len(records) == len(rows)
    for record, row in zip(records, rows, strict=True):
        assert tuple(record) == keys
        assert {k: _as_csv(v) for k, v in record.items()} == row


def _pages(client: httpx.Client, url: str, size: int) -> list[dict[str, Any]]:
    """Every record of an API collection, `size` at a time through `@odata.nextLink`."""
    client.headers["Prefer"] = f"odata.maxpagesize={size}"
    records: list[dict[str, Any]] = []
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["value"]) <= size
        records.extend(body["value"])
        url = body.get("@odata.nextLink", "")
        pages += 1
        assert pages < 500
    assert pages > 1 or len(records) <= size
    return records


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
        gone = min(
            (h for h in sim.tenant.holdings.values() if h.sku_id != unmanaged["sku_id"]),
            key=lambda h: sim.tenant.consumed.get(h.sku_id, 0),
        )
        del sim.tenant.holdings[gone.sku_id]
        assert seatwise("sync", "--task", "license-info").code == 0
    cli = {p["sku_id"]: p for p in seatwise("licenses", "--format", "json", "--all").json()}
    users_before = seatwise("users", "--format", "json").out
    web: Web = request.getfixturevalue("web")

    with web.client() as client:
        web.login(client, "viewer")  # any signed-in user may export
        records, rows = _export(client)
    _agree(records, rows)
    assert {r["sku_id"] for r in records} == set(cli) - {unmanaged["sku_id"]}
    for record in records:
        position = cli[record["sku_id"]]
        assert record["tenant"] == "sim" and record["tenant_id"] == sim.tenant.tenant_id
        assert record["publisher"] == "Microsoft"
        assert record["product_name"] == position["name"]
        assert record["sku_part_number"] == position["sku_part_number"]
        assert record["purchased"] == position["purchased"]
        assert record["consumed"] == position["assigned"]
        assert record["available"] == position["available"]
        for key in ("cost", "currency", "payment_frequency", "annual_cost", "expiration_date"):
            assert record[key] == position[key], key
        expected = "retired" if record["sku_id"] == gone.sku_id else "active"
        assert record["status"] == expected, record
    by_id = {r["sku_id"]: r for r in records}
    assert by_id[priced["sku_id"]]["annual_cost"] == f"{12.5 * 12 * priced['purchased']:.2f}"
    assert unmanaged["sku_id"] not in by_id  # unmanaged: not in the position

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


def test_itam_api_and_exports_equal_the_cli(
    seatwise: Seatwise, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim", users=80) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
    held = [p for p in seatwise("licenses", "--format", "json").json() if p["assigned"]]
    assert seatwise("license", "set", held[0]["sku_part_number"], "--unmanaged").code == 0
    cli = seatwise("export", "itam", "--format", "json").json()
    cli_use = seatwise("export", "itam", "--consumption", "--format", "json").json()
    cli_csv = seatwise("export", "itam").out
    cli_use_csv = seatwise("export", "itam", "--consumption", "--format", "csv").out
    assert cli and cli_use and held[0]["sku_id"] not in {r["sku_id"] for r in cli}
    assert held[0]["sku_id"] not in {r["sku_id"] for r in cli_use}
    web: Web = request.getfixturevalue("web")

    viewer = {"Authorization": f"Bearer {web.tokens['viewer']}"}
    with web.client(headers=viewer) as client:
        assert _pages(client, "/api/v1/itam", 3) == cli
        assert _pages(client, "/api/v1/itam_consumption", 25) == cli_use
        client.headers.pop("Prefer")
        assert client.get("/api/v1/itam", params={"$format": "csv"}).text == cli_csv
        assert client.get("/api/v1/itam_consumption", params={"$format": "csv"}).text == cli_use_csv
        count = client.get("/api/v1/itam_consumption/$count")
        assert count.status_code == 200 and int(count.text) == len(cli_use)
        first = cli_use[0]
        key = f"tenant='{first['tenant']}',sku_id='{first['sku_id']}',user_id='{first['user_id']}'"
        one = client.get(f"/api/v1/itam_consumption({key})")
        assert one.status_code == 200, one.text
        assert {k: one.json()[k] for k in first} == first
        assert client.get("/api/v1/itam", params={"tenant": "nobody"}).status_code == 400
    with web.client() as anonymous:
        assert anonymous.get("/api/v1/itam_consumption").status_code == 401
    with web.client() as browser:
        web.login(browser, "viewer")
        # the Overview and Settings pages link the position and the consumption exports
        for page in ("/", "/settings"):
            html = browser.get(page).text
            assert 'href="/export/itam.csv"' in html
            assert 'href="/export/itam-consumption.csv"' in html
        assert browser.get("/export/itam.csv").text == cli_csv
        assert browser.get("/export/itam-consumption.csv").text == cli_use_csv
        records, rows = _export(browser, "itam-consumption")
    assert records == cli_use
    _agree(records, rows, CONSUMPTION_KEYS)


def test_csv_cells_defuse_formulas() -> None:
    record = dict.fromkeys(ITAM_KEYS, "x") | {"product_name": "=HYPERLINK(1)", "purchased": -1}
    row = next(csv.DictReader(io.StringIO(to_csv([record]), newline="")))
    assert row["product_name"] == "'=HYPERLINK(1)" and row["purchased"] == "-1"
