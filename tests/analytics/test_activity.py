"""The activity view: per-user values (date, "never", "not available", null) and their as-of
date, the per-service summary at its 7/30/90-day boundaries, licence differentiation; then the
`seatwise activity` command end to end against a synced simulated tenant.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from seatwise import services
from seatwise.analytics import activity as view
from seatwise.errors import UsageError
from tests.sync import conftest as e2e
from tests.sync.conftest import Seatwise, serve

AS_OF = date(2026, 11, 17)
SIGN_IN_AS_OF = date(2026, 11, 20)
database_url = e2e.database_url  # the e2e fixture, parametrised over SQLite and PostgreSQL

# Hand-built SKUs: an Exchange + Teams suite, Visio, Power BI; plan ids are made up.
PLANS = {
    "suite": {"p-exo": "EXCHANGE_S_ENTERPRISE", "p-teams": "TEAMS1", "p-other": "INTUNE_A"},
    "visio": {"p-visio": "VISIO_CLIENT_SUBSCRIPTION", "p-visio-web": "VISIOONLINE"},
    "pbi": {"p-pbi": "BI_AZURE_P2"},
}


def row(last: date | None, as_of: date = AS_OF, available: bool = True) -> dict[str, Any]:
    return {"last_activity": last, "as_of": as_of, "available": available}


def person(
    name: str,
    licensed: Sequence[str] = (),
    **activity: dict[str, Any],
) -> view.UserActivity:
    """A user; keyword arguments are service names with spaces written as underscores."""
    return view.UserActivity(
        {"id": f"id-{name}", "upn": f"{name}@example.test", "display_name": name.title()},
        frozenset(licensed),
        {k.replace("_", " "): v for k, v in activity.items()},
    )


def summary_of(users: Sequence[view.UserActivity], selected: Sequence[str]) -> dict[str, Any]:
    licences = {u.user["id"]: u.licensed for u in users}
    rows = [
        (u.user["id"], service, r["last_activity"], r["as_of"], r["available"])
        for u in users
        for service, r in u.activity.items()
    ]
    return {r["service"]: r for r in view.summarise(licences, rows, selected)}


# --- per-user values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "stored", "licensed", "shown"),
    [
        ("Exchange", row(date(2026, 11, 3)), True, date(2026, 11, 3)),
        ("Exchange", row(date(2026, 11, 3)), False, date(2026, 11, 3)),  # used without licence
        ("Exchange", row(None), True, "never"),
        ("Exchange", None, True, "never"),  # licensed, not in the report at all
        ("Exchange", row(None), False, None),
        ("Exchange", None, False, None),
        ("Exchange", row(None, available=False), True, "not available"),
        ("Exchange", row(None, available=False), False, "not available"),
        ("Visio", row(None, available=False), True, "not available"),
        ("Visio", None, True, "not available"),  # a holder the access task has not seen yet
        ("Visio", None, False, None),
        ("Power BI", row(date(2026, 10, 1), SIGN_IN_AS_OF), True, date(2026, 10, 1)),
    ],
)
def test_value(service: str, stored: Any, licensed: bool, shown: Any) -> None:
    assert view.value(service, stored, licensed) == shown


def test_build_has_exactly_the_keys_and_the_report_refresh_date() -> None:
    user = person(
        "ada",
        licensed=["Exchange", "Outlook", "Teams", "Visio", "Power BI"],
        Exchange=row(date(2026, 11, 16)),
        Outlook=row(date(2026, 11, 15), as_of=date(2026, 11, 16)),
        Teams=row(None),
        Power_BI=row(date(2026, 11, 19), as_of=SIGN_IN_AS_OF),  # sign-in rows do not count
        Visio=row(None, as_of=date(2026, 11, 27), available=False),
    )
    record = view.build(user, services.SERVICES)
    assert tuple(record) == ("id", "upn", "display_name", *services.SERVICES, "as_of")
    assert record == {
        "id": "id-ada",
        "upn": "ada@example.test",
        "display_name": "Ada",
        "Exchange": "2026-11-16",
        "Outlook": "2026-11-15",
        "Teams": "never",
        "OneDrive": None,
        "SharePoint": None,
        "Skype for Business": None,
        "Yammer": None,
        "Dynamics 365": None,
        "Power BI": "2026-11-19",
        "Project": None,
        "Visio": "not available",
        "as_of": "2026-11-17",
    }


def test_as_of_is_null_without_usage_report_rows() -> None:
    user = person("bo", licensed=["Power BI"], Power_BI=row(date(2026, 11, 2), SIGN_IN_AS_OF))
    record = view.build(user, ("Power BI",))
    assert record == {
        "id": "id-bo",
        "upn": "bo@example.test",
        "display_name": "Bo",
        "Power BI": "2026-11-02",
        "as_of": None,
    }


def test_licences_come_from_enabled_plans() -> None:
    catalog = view.LicenceCatalog(PLANS)
    assert catalog.services_of("suite", []) == {"Exchange", "Outlook", "Teams"}
    assert catalog.services_of("suite", ["p-teams"]) == {"Exchange", "Outlook"}
    assert catalog.services_of("visio", ["p-visio"]) == {"Visio"}  # the web plan is left
    assert catalog.services_of("visio", ["p-visio", "p-visio-web"]) == frozenset()
    assert catalog.services_of("unknown-sku", None) == frozenset()
    e3_without_exchange = catalog.services_of("suite", ["p-exo", "p-other"])
    assert e3_without_exchange | catalog.services_of("pbi", None) == {"Teams", "Power BI"}


# --- summary --------------------------------------------------------------------------------


def test_summary_windows_are_inclusive_at_7_30_and_90_days() -> None:
    ages = (0, 7, 8, 30, 31, 90, 91)
    users = [
        person(f"age{age}", ["Exchange"], Exchange=row(AS_OF - timedelta(days=age))) for age in ages
    ]
    users += [
        person("never-row", ["Exchange"], Exchange=row(None)),
        person("never-no-row", ["Exchange"]),
        person("free-rider", [], Exchange=row(AS_OF - timedelta(days=3))),  # no licence
        person("nobody", []),
    ]
    summary = summary_of(users, ("Exchange",))
    assert summary == {
        "Exchange": {
            "service": "Exchange",
            "as_of": "2026-11-17",
            "licensed": 9,
            "active_7d": 3,  # ages 0 and 7, and the user without a licence
            "active_30d": 5,  # + 8 and 30
            "active_90d": 7,  # + 31 and 90
            "inactive": 1,  # 91
            "never": 2,
            "not_available": 0,
        }
    }
    assert tuple(summary["Exchange"]) == view.SUMMARY_KEYS


def test_summary_of_visio_counts_holders_as_not_available() -> None:
    users = [
        person("seen", ["Visio"], Visio=row(None, as_of=date(2026, 11, 27), available=False)),
        person("unseen", ["Visio"]),
        person("other", ["Exchange"]),
    ]
    visio = summary_of(users, ("Visio",))["Visio"]
    assert visio["licensed"] == 2
    assert visio["not_available"] == 2
    assert visio["never"] == visio["active_90d"] == visio["inactive"] == 0
    assert visio["as_of"] == "2026-11-27"


def test_summary_skips_rows_of_users_that_are_not_live() -> None:
    licences = {"id-live": frozenset({"Teams"})}
    rows = [
        ("id-live", "Teams", AS_OF, AS_OF, True),
        ("id-deleted", "Teams", AS_OF, AS_OF, True),
        ("id-deleted", "Teams", None, AS_OF, False),
    ]
    (teams,) = view.summarise(licences, rows, ("Teams",))
    assert (teams["licensed"], teams["active_7d"], teams["not_available"]) == (1, 1, 0)


def test_summary_of_a_service_nobody_has() -> None:
    (project,) = view.summarise({}, [], ("Project",))
    assert project == {
        "service": "Project",
        "as_of": None,
        "licensed": 0,
        "active_7d": 0,
        "active_30d": 0,
        "active_90d": 0,
        "inactive": 0,
        "never": 0,
        "not_available": 0,
    }


def recount(records: Sequence[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    """A summary's counts (all but `licensed`) recomputed from per-user records."""
    service = summary["service"]
    reference = date.fromisoformat(summary["as_of"]) if summary["as_of"] else None
    counts = dict.fromkeys(view.SUMMARY_KEYS[3:], 0)
    for record in records:
        shown = record[service]
        if shown in ("never", "not available"):
            counts[shown.replace(" ", "_")] += 1
        elif shown is not None:
            assert reference is not None
            age = (reference - date.fromisoformat(shown)).days
            for window in view.WINDOWS:
                counts[f"active_{window}d"] += age <= window
            counts["inactive"] += age > view.WINDOWS[-1]
    return {"service": service, "as_of": summary["as_of"], **counts}


def test_summary_agrees_with_the_per_user_view() -> None:
    rng = random.Random(7)
    users = []
    for i in range(400):
        licensed = [s for s in services.SERVICES if rng.random() < 0.5]
        activity = {}
        for service in services.SERVICES:
            dice = rng.random()
            if service == services.VISIO:
                if service in licensed and dice < 0.8:
                    activity[service] = row(None, date(2026, 11, 27), available=False)
            elif dice < 0.6:
                activity[service] = row(AS_OF - timedelta(days=rng.randrange(0, 200)))
            elif dice < 0.8:
                activity[service] = row(None)
        users.append(
            view.UserActivity({"id": f"u{i}", "upn": f"u{i}"}, frozenset(licensed), activity)
        )
    records = [view.build(u, services.SERVICES) for u in users]
    totals = summary_of(users, services.SERVICES)
    for service, summary in totals.items():
        assert {k: v for k, v in summary.items() if k != "licensed"} == recount(records, summary)
        assert summary["licensed"] == sum(service in u.licensed for u in users)


# --- services and differentiation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "chosen"),
    [
        (None, services.SERVICES),
        ([], services.SERVICES),
        (["teams"], ("Teams",)),
        (["power-bi", "TEAMS", "Power BI"], ("Teams", "Power BI")),  # service order, no repeats
        (["skype", "dynamics"], ("Skype for Business", "Dynamics 365")),
        (
            ["Skype for Business", "skype_for_business", "ONE DRIVE"],
            ("OneDrive", "Skype for Business"),
        ),
        (["visio", "exchange"], ("Exchange", "Visio")),
    ],
)
def test_resolve_services(names: list[str] | None, chosen: tuple[str, ...]) -> None:
    assert view.resolve_services(names) == chosen


def test_unknown_service_names_the_valid_ones() -> None:
    with pytest.raises(UsageError) as caught:
        view.resolve_services(["Teams", "Slack"])
    assert "'Slack'" in str(caught.value)
    assert all(name in str(caught.value) for name in services.SERVICES)


def test_differentiation_is_ordered_by_sku_name_then_service() -> None:
    stored = [
        {"sku_id": "e3", "service": "Teams", "holders": 5, "active_users": 4, "as_of": AS_OF},
        {"sku_id": "e3", "service": "Exchange", "holders": 5, "active_users": 5, "as_of": AS_OF},
        {"sku_id": "bi", "service": "Power BI", "holders": 2, "active_users": 0, "as_of": None},
        {"sku_id": "gone", "service": "Visio", "holders": 1, "active_users": 0, "as_of": AS_OF},
    ]
    names = {"e3": ("SPE_E3", "Microsoft 365 E3"), "bi": ("POWER_BI_PRO", "Power BI Pro")}
    records = view.differentiation(stored, names)
    assert [(r["name"], r["service"]) for r in records] == [
        ("gone", "Visio"),  # a SKU without a name is shown by its id
        ("Microsoft 365 E3", "Exchange"),
        ("Microsoft 365 E3", "Teams"),
        ("Power BI Pro", "Power BI"),
    ]
    assert records[1] == {
        "sku_id": "e3",
        "sku_part_number": "SPE_E3",
        "name": "Microsoft 365 E3",
        "service": "Exchange",
        "holders": 5,
        "active_users": 5,
        "as_of": "2026-11-17",
    }
    assert records[3]["as_of"] is None
    only = view.differentiation(stored, names, ("Teams", "Power BI"))
    assert [r["service"] for r in only] == ["Teams", "Power BI"]


# --- the command, end to end ----------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Seatwise:
    return Seatwise(monkeypatch, tmp_path / "data", database_url)


@pytest.fixture
def synced(cli: Seatwise, tmp_path: Path) -> e2e.Sim:
    """A 120-user simulated tenant, synced once; the simulator stops after the sync."""
    with serve(tmp_path / "sim", users=120) as sim:
        assert cli.add_app_only(sim).code == 0
        result = cli("sync")
        assert result.code == 0, result.err
    return sim


def test_per_user_view_end_to_end(cli: Seatwise, synced: e2e.Sim) -> None:
    result = cli("activity", "--format", "json")
    assert result.code == 0, result.err
    records = result.json()
    assert records
    keys = ("id", "upn", "display_name", *services.SERVICES, "as_of")
    assert all(tuple(r) == keys for r in records)
    assert [r["upn"] for r in records] == sorted(r["upn"] for r in records)
    users = {u.upn: u for u in synced.tenant.users}
    assert {r["upn"] for r in records} == set(users)
    visio_holders = {upn for upn, u in users.items() if synced.tenant.licensed_for(u, "visio")}
    assert visio_holders, "the simulated tenant should have Visio holders"
    assert {r["upn"] for r in records if r["Visio"] is not None} == visio_holders
    assert {r["Visio"] for r in records if r["upn"] in visio_holders} == {"not available"}
    values = {r[s] for r in records for s in services.SERVICES[:-1]}
    assert {"never", None} <= values
    dates = values - {"never", None}
    assert dates and all(date.fromisoformat(v) for v in dates)  # nothing else is shown
    unlicensed = [r for r in records if not users[r["upn"]].licenses]
    assert unlicensed and all(r[s] != "never" for r in unlicensed for s in services.SERVICES)
    dated = [r for r in records if r["as_of"]]
    assert {r["as_of"] for r in dated} == {synced.tenant.refresh_date.isoformat()}

    only = cli("activity", "--service", "power-bi", "--service", "TEAMS", "--format", "json")
    assert only.code == 0, only.err
    assert [tuple(r) for r in only.json()][:1] == [
        ("id", "upn", "display_name", "Teams", "Power BI", "as_of")
    ]
    assert only.json() == [
        {k: r[k] for k in ("id", "upn", "display_name", "Teams", "Power BI", "as_of")}
        for r in records
    ]
    for fmt in ("table", "csv"):
        shown = cli("activity", "--service", "visio", "--format", fmt)
        assert shown.code == 0, shown.err
        assert "not available" in shown.out


def test_summary_agrees_with_the_per_user_output(cli: Seatwise, synced: e2e.Sim) -> None:
    del synced
    records = cli("activity", "--format", "json").json()
    result = cli("activity", "--summary", "--format", "json")
    assert result.code == 0, result.err
    summary = result.json()
    assert [s["service"] for s in summary] == list(services.SERVICES)
    assert all(tuple(s) == view.SUMMARY_KEYS for s in summary)
    for entry in summary:
        assert {k: v for k, v in entry.items() if k != "licensed"} == recount(records, entry)
        assert entry["licensed"] >= entry["never"]
    visio = summary[-1]
    assert visio["not_available"] == visio["licensed"] > 0
    teams_only = cli("activity", "--summary", "--service", "teams", "--format", "json").json()
    assert teams_only == [s for s in summary if s["service"] == "Teams"]

    usage = cli("activity", "--differentiation", "--format", "json")
    assert usage.code == 0, usage.err
    rows = usage.json()
    assert rows and all(tuple(r) == view.DIFFERENTIATION_KEYS for r in rows)
    for entry in summary:
        holders = [r["holders"] for r in rows if r["service"] == entry["service"]]
        # A user holding two SKUs with the service is one licensed user but two holders.
        assert max(holders, default=0) <= entry["licensed"] <= sum(holders)


@pytest.mark.parametrize(
    "args",
    [
        ("activity", "--service", "Slack"),
        ("activity", "--summary", "--service", "teams", "--service", "nope"),
        ("activity", "--summary", "--differentiation"),
    ],
)
def test_bad_arguments_exit_2_without_a_traceback(cli: Seatwise, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.code == 2
    assert "Traceback" not in result.err
    assert result.err.startswith("Error: ")
    assert result.out == ""
