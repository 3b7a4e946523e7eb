"""Product and service-plan names from Microsoft's table shipped in the package, the service-plan
→ service mapping derived from it, lazy loading, and `seatwise skus import` with Microsoft's
downloadable layout, the shipped two-file layout and broken files (exit 5, previous names kept),
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from seatwise import services, skus
from tests.sync.conftest import Seatwise, database_url, query, seatwise, serve

__all__ = ["database_url", "seatwise"]  # the CLI fixtures, on SQLite and PostgreSQL

# The mapping seatwise shipped before the table, which the derived mapping must keep.
SEED_PLANS = {
    "EXCHANGE_S_STANDARD": (services.EXCHANGE, services.OUTLOOK),
    "EXCHANGE_S_ENTERPRISE": (services.EXCHANGE, services.OUTLOOK),
    "EXCHANGE_S_DESKLESS": (services.EXCHANGE, services.OUTLOOK),
    "TEAMS1": (services.TEAMS,),
    "SHAREPOINTSTANDARD": (services.SHAREPOINT, services.ONEDRIVE),
    "SHAREPOINTENTERPRISE": (services.SHAREPOINT, services.ONEDRIVE),
    "SHAREPOINTDESKLESS": (services.SHAREPOINT, services.ONEDRIVE),
    "ONEDRIVESTANDARD": (services.ONEDRIVE,),
    "ONEDRIVE_BASIC": (services.ONEDRIVE,),
    "MCOSTANDARD": (services.SKYPE,),
    "MCOIMP": (services.SKYPE,),
    "YAMMER_ENTERPRISE": (services.YAMMER,),
    "VIVAENGAGE_CORE": (services.YAMMER,),
    "DYN365_ENTERPRISE_SALES": (services.DYNAMICS,),
    "DYN365_ENTERPRISE_CUSTOMER_SERVICE": (services.DYNAMICS,),
    "DYN365_SALES_PRO": (services.DYNAMICS,),
    "DYN365_TEAM_MEMBERS": (services.DYNAMICS,),
    "DYN365_FINANCIALS_BUSINESS": (services.DYNAMICS,),
    "BI_AZURE_P0": (services.POWER_BI,),
    "BI_AZURE_P2": (services.POWER_BI,),
    "BI_AZURE_P3": (services.POWER_BI,),
    "PROJECT_CLIENT_SUBSCRIPTION": (services.PROJECT,),
    "SHAREPOINT_PROJECT": (services.PROJECT,),
    "PROJECT_PROFESSIONAL": (services.PROJECT,),
    "PROJECT_P1": (services.PROJECT,),
    "VISIO_CLIENT_SUBSCRIPTION": (services.VISIO,),
    "VISIOONLINE": (services.VISIO,),
}
COPILOT = "639dec6b-bb19-468b-871c-c5c441c4b0cb"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
MICROSOFT_HEADER = (
    "Product_Display_Name,String_Id,GUID,Service_Plan_Name,Service_Plan_Id,"
    "Service_Plans_Included_Friendly_Names"
)


def _shipped(name: str) -> list[dict[str, str]]:
    text = resources.files("seatwise.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def table_dir() -> Iterator[None]:
    """Leave the module's table as the shipped one after the test."""
    yield
    skus.use_data_dir(None)


def test_every_product_of_the_shipped_table_has_its_name() -> None:
    rows = _shipped("m365-skus.csv")
    assert len(rows) > 600
    for row in rows:
        assert skus.product_name(row["sku_id"].upper(), "PART") == row["product_name"]
        assert skus.PRODUCTS[row["sku_id"]] == (row["sku_part_number"], row["product_name"])
    assert len(skus.PRODUCTS) == len(rows)
    # government, education and Copilot products have their names, not part numbers
    named = {
        "f37d5ebf-4bf1-4aa2-8fa3-50c51059e983": "Exchange Online (Plan 1) for GCC",
        "535a3a29-c5f0-42fe-8215-d3b9e1f38c4a": "Office 365 G3 GCC",
        "e578b273-6db4-4691-bba0-8d691f4da603": "Office 365 A3 for Faculty",
        "ad9c22b3-52d7-4e7e-973c-88121ea96436": "Microsoft 365 Copilot (Education Faculty)",
        COPILOT: "Copilot for Microsoft 365",
    }
    for sku_id, name in named.items():
        assert skus.product_name(sku_id, "PART") == name
    assert skus.product_name("00000000-0000-0000-0000-000000000000", "NEW_SKU") == "NEW_SKU"


def test_service_plan_names_and_the_derived_service_mapping() -> None:
    assert skus.plan_name("57ff2da0-773e-42df-b2af-ffb7a2317929") == "Microsoft Teams"
    assert skus.plan_name("VISIOONLINE") == "Visio web app"
    assert skus.plan_name("NOT_A_PLAN") == "NOT_A_PLAN"
    derived = services.plan_services()
    for name, expected in SEED_PLANS.items():
        assert derived[name] == expected, name
        assert services.services_of_plans({name}) == set(expected)
    # editions of the same plans, from the table
    for name, expected in {
        "EXCHANGE_S_STANDARD_GOV": SEED_PLANS["EXCHANGE_S_STANDARD"],
        "SHAREPOINTENTERPRISE_EDU": SEED_PLANS["SHAREPOINTENTERPRISE"],
        "TEAMS_GOV": (services.TEAMS,),
        "BI_AZURE_P3_GOV": (services.POWER_BI,),
        "PROJECT_PROFESSIONAL_FOR_GOV": (services.PROJECT,),
        "VISIOONLINE_GOV": (services.VISIO,),
        "YAMMER_EDU": (services.YAMMER,),
    }.items():
        assert derived[name] == expected, name
    # plans that give no service of their own
    for name in ("EXCHANGE_S_FOUNDATION", "TEAMSPRO_CUST", "PBI_PREMIUM_P1_ADDON", "DYN365_CDS_P2"):
        assert name not in derived and not services.services_of_plans({name}), name
    assert {s for found in derived.values() for s in found} == set(services.SERVICES)
    every_plan = {r["service_plan_name"] for r in _shipped("m365-sku-service-plans.csv")}
    assert set(derived) <= every_plan
    # a plan newer than the table is judged by its string id
    assert services.services_of_plans({"EXCHANGE_S_ENTERPRISE_NEWCLOUD"}) == {
        services.EXCHANGE,
        services.OUTLOOK,
    }


def test_the_tables_are_read_only_when_needed() -> None:
    script = (
        "import seatwise.cli, seatwise.skus as s, seatwise.services as v\n"
        "assert not s._cache, 'read at import'\n"
        "s.product_name('6fd2c87f-b296-42f0-b197-1e91e994b900')\n"
        "assert 'products' in s._cache and 'plans' not in s._cache, 'plans read for a name'\n"
        "v.services_of_plans({'TEAMS1'})\n"
        "assert 'plans' in s._cache\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def _microsoft_csv(
    path: Path, renamed: dict[str, str], dropped: frozenset[str] = frozenset()
) -> None:
    """The shipped table in Microsoft's downloadable layout (with its BOM, upper-case GUIDs and
    stray non-breaking spaces), with some products renamed and some service plans left out."""
    products = {r["sku_id"]: r for r in _shipped("m365-skus.csv")}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(MICROSOFT_HEADER.split(","))
    for row in _shipped("m365-sku-service-plans.csv"):
        if row["service_plan_name"] in dropped:
            continue
        name = renamed.get(row["sku_id"], products[row["sku_id"]]["product_name"])
        writer.writerow(
            [
                name + "\u00a0",
                " " + row["sku_part_number"],
                row["sku_id"].upper(),
                row["service_plan_name"],
                row["service_plan_id"],
                row["service_plan_friendly_name"] + " ",
            ]
        )
    path.write_bytes(out.getvalue().encode("utf-8-sig"))


def test_skus_import_takes_microsofts_csv_and_the_shipped_layout(
    seatwise: Seatwise, tmp_path: Path, table_dir: None
) -> None:
    download = tmp_path / "Product names and service plan identifiers for licensing.csv"
    _microsoft_csv(download, {COPILOT: "Microsoft 365 Copilot", E3: "Office 365 E3 (renamed)"})
    done = seatwise("skus", "import", str(download))
    assert done.code == 0, done.err
    assert "Imported 610 products and 771 service plans" in done.err
    assert (seatwise.data_dir / skus.IMPORTED_SKUS).is_file()
    skus.use_data_dir(seatwise.data_dir)
    assert skus.product_name(COPILOT) == "Microsoft 365 Copilot"
    assert skus.PRODUCTS[E3] == ("ENTERPRISEPACK", "Office 365 E3 (renamed)")
    assert skus.plan_name("TEAMS1") == "Microsoft Teams"  # whitespace trimmed
    assert services.plan_services() == services.plan_services() and services.services_of_plans(
        {"TEAMS1"}
    ) == {services.TEAMS}

    # the next License Information sync names the tenant's SKUs from the imported table
    with serve(tmp_path / "sim", users=20) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync", "--task", "license-info").code == 0
    listed = {p["sku_id"]: p for p in seatwise("licenses", "--format", "json", "--all").json()}
    assert listed[E3]["name"] == "Office 365 E3 (renamed)"

    # the shipped two-file layout brings the shipped names back
    data = resources.files("seatwise.data")
    shipped = [tmp_path / "m365-skus.csv", tmp_path / "m365-sku-service-plans.csv"]
    for path in shipped:
        path.write_bytes(data.joinpath(path.name).read_bytes())
    assert seatwise("skus", "import", *map(str, reversed(shipped))).code == 0
    assert skus.product_name(COPILOT) == "Copilot for Microsoft 365"
    alone = seatwise("skus", "import", str(shipped[0]))
    assert alone.code == 5 and "service-plan file" in alone.err


def test_an_imported_table_makes_license_differentiation_count_again(
    seatwise: Seatwise, tmp_path: Path, table_dir: None
) -> None:
    with serve(tmp_path / "sim", users=20) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        assert seatwise("sync", "--task", "differentiation").code == 0  # nothing changed
        download = tmp_path / "table.csv"
        _microsoft_csv(download, {}, dropped=frozenset({"TEAMS1"}))  # Teams' plan unknown
        assert seatwise("skus", "import", str(download)).code == 0
        assert seatwise("sync", "--task", "differentiation").code == 0
    notes = [
        str(row[0])
        for row in query(
            seatwise.database_url,
            "SELECT notes FROM task_run WHERE task = 'differentiation' ORDER BY pk",
        )
    ]
    assert len(notes) == 3
    assert "Nothing this task reads changed" in notes[1]
    assert "Nothing this task reads changed" not in notes[2]  # counted with the new table


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"Product_Display_Name,String_Id,GUID\r\nx,y,z\r\n",
            "lacks the columns Service_Plan_Name",
        ),
        ("Produkt,Größe\r\nä,ö\r\n".encode("latin-1"), "is not UTF-8 text"),
        (
            (
                MICROSOFT_HEADER + "\r\nOffice 365 E3,ENTERPRISEPACK,not-a-guid,TEAMS1,"
                "57ff2da0-773e-42df-b2af-ffb7a2317929,Teams\r\n"
            ).encode(),
            "line 2: GUID 'not-a-guid' is not a GUID",
        ),
        (b"", "is empty"),
        ((MICROSOFT_HEADER + "\r\n").encode(), "holds no product"),
        (b"a,b,c\r\n1,2,3\r\n", "is neither Microsoft's CSV"),
    ],
    ids=["missing-columns", "latin-1", "bad-guid", "empty", "no-rows", "unknown-layout"],
)
def test_a_broken_file_keeps_the_previous_table(
    seatwise: Seatwise, tmp_path: Path, table_dir: None, content: bytes, message: str
) -> None:
    good = tmp_path / "good.csv"
    _microsoft_csv(good, {COPILOT: "Copilot, as imported"})
    assert seatwise("skus", "import", str(good)).code == 0
    stored = (seatwise.data_dir / skus.IMPORTED_SKUS).read_bytes()
    broken = tmp_path / "broken.csv"
    broken.write_bytes(content)
    done = seatwise("skus", "import", str(broken))
    assert done.code == 5, done
    assert message in done.err and done.err.count("\n") == 1
    assert "Traceback" not in done.err
    assert (seatwise.data_dir / skus.IMPORTED_SKUS).read_bytes() == stored
    skus.use_data_dir(seatwise.data_dir)
    assert skus.product_name(COPILOT) == "Copilot, as imported"
    missing = seatwise("skus", "import", str(tmp_path / "nowhere.csv"))
    assert missing.code == 5 and "Cannot read" in missing.err
