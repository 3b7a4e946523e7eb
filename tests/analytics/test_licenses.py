"""Licence positions (DESIGN §5): the pure calculations against a golden scenario and by hand,
then `seatwise licenses` and `seatwise license set` end to end against the simulator.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, select

from seatwise.analytics import licenses as view
from seatwise.errors import UsageError
from seatwise.reclaim.audit import current_actor
from seatwise.simulator import catalog
from seatwise.store.schema import LicenseContract
from tests.sync import conftest as e2e
from tests.sync.conftest import Seatwise, serve

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "licenses" / "positions.json"

# A fresh database per test: a SQLite file, and PostgreSQL when SEATWISE_TEST_DATABASE_URL is set.
database_url = e2e.database_url


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Seatwise:
    """The `seatwise` command run in-process with its own data directory and database."""
    return Seatwise(monkeypatch, tmp_path / "data", database_url)


def _golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    for contract in data["contracts"]:
        if contract["cost"] is not None:
            contract["cost"] = Decimal(contract["cost"])
        for key in ("effective_date", "expiration_date"):
            if contract[key] is not None:
                contract[key] = date.fromisoformat(contract[key])
    return data


def _sku(
    part: str = "ENTERPRISEPACK", enabled: int = 10, consumed: int = 7, **more: Any
) -> dict[str, Any]:
    sku_id = more.pop("sku_id", f"id-{part.lower()}")
    return {"sku_id": sku_id, "part_number": part, "enabled": enabled, "consumed": consumed, **more}


def _terms(
    sku: dict[str, Any],
    cost: str | None,
    currency: str | None = "EUR",
    frequency: str | None = "monthly",
    **more: Any,
) -> dict[str, Any]:
    return {
        "sku_id": sku["sku_id"],
        "cost": None if cost is None else Decimal(cost),
        "currency": currency,
        "payment_frequency": frequency,
        **more,
    }


# -- the golden scenario -------------------------------------------------------------------


def test_golden_positions() -> None:
    data = _golden()
    found = view.build(data["skus"], data["contracts"])
    assert [p.record() for p in found] == data["positions"]
    assert all(list(p.record()) == list(view.KEYS) for p in found)


def test_golden_all_adds_unmanaged_and_retired_skus_without_costs() -> None:
    data = _golden()
    every = [p.record() for p in view.build(data["skus"], data["contracts"], include_all=True)]
    assert [r for r in every if r not in data["all_only"]] == data["positions"]
    assert [r for r in every if r in data["all_only"]] == data["all_only"]


def test_golden_totals() -> None:
    data = _golden()
    for include_all in (False, True):  # what is listed never changes the totals
        found = view.build(data["skus"], data["contracts"], include_all)
        assert [t.record() for t in view.totals(found)] == data["totals"]


@pytest.mark.parametrize("case", _golden()["expiring"], ids=lambda c: f"{c['as_of']}+{c['days']}")
def test_golden_renewal_horizon(case: dict[str, Any]) -> None:
    data = _golden()
    found = view.build(data["skus"], data["contracts"], include_all=True)
    soon = view.expiring(found, date.fromisoformat(case["as_of"]), case["days"])
    assert [p.sku_part_number for p in soon] == case["sku_part_numbers"]


# -- calculations --------------------------------------------------------------------------


def test_decimal_arithmetic_is_exact() -> None:
    assert view.annual_amount(Decimal("12.3456"), "monthly", 7) == Decimal("1037.0304")
    assert view.annual_amount(Decimal("0.1"), "monthly", 3) == Decimal("3.6")  # 0.1 + 0.2 != 0.3
    (item,) = view.build([_sku(enabled=7, consumed=0)], [_terms(_sku(), "12.3456")])
    assert item.annual_cost == item.unused_annual_cost == Decimal("1037.0304")
    assert item.record()["annual_cost"] == "1037.03"


def test_monthly_costs_twelve_periods_a_year_annual_one() -> None:
    sku = _sku(enabled=10, consumed=4)
    (monthly,) = view.build([sku], [_terms(sku, "10", frequency="monthly")])
    (annual,) = view.build([sku], [_terms(sku, "10", frequency="annual")])
    assert (monthly.annual_cost, monthly.unused_annual_cost) == (Decimal(1200), Decimal(720))
    assert (annual.annual_cost, annual.unused_annual_cost) == (Decimal(100), Decimal(60))


def test_over_assigned_sku_shows_negative_available_and_no_unused_cost() -> None:
    sku = _sku(enabled=5, consumed=8)
    (item,) = view.build([sku], [_terms(sku, "20")])
    assert item.available == -3
    assert item.annual_cost == Decimal(1200)
    assert item.unused_annual_cost == Decimal(0)
    assert item.record()["unused_annual_cost"] == "0.00"


def test_no_cost_means_null_amounts_and_no_total() -> None:
    sku = _sku()
    for contracts in ([], [_terms(sku, None, currency=None, frequency=None)]):
        (item,) = view.build([sku], contracts)
        assert item.managed is True
        assert (item.annual_cost, item.unused_annual_cost) == (None, None)
        assert view.totals([item]) == []


def test_totals_are_per_currency_never_mixed() -> None:
    e3, e5, visio = _sku("E3"), _sku("E5", enabled=2, consumed=1), _sku("VISIO", 1, 1)
    found = view.build(
        [e3, e5, visio],
        [_terms(e3, "10"), _terms(e5, "10", currency="USD"), _terms(visio, "1.005")],
    )
    totals = {t.currency: t for t in view.totals(found)}
    assert set(totals) == {"EUR", "USD"}
    assert totals["EUR"].annual_cost == Decimal(1200) + Decimal("12.06")
    assert (totals["EUR"].skus, totals["USD"].skus) == (2, 1)
    assert totals["USD"].annual_cost == Decimal(240)
    assert totals["USD"].unused_annual_cost == Decimal(120)


def test_totals_round_only_once_after_adding() -> None:
    a, b = _sku("A", enabled=1, consumed=0), _sku("B", enabled=1, consumed=0)
    contracts = [_terms(a, "0.0025", frequency="annual"), _terms(b, "0.0025", frequency="annual")]
    found = view.build([a, b], contracts)
    assert [p.record()["annual_cost"] for p in found] == ["0.00", "0.00"]
    assert view.totals(found)[0].record()["annual_cost"] == "0.01"  # 0.005 rounds half up


def test_an_unmanaged_sku_with_a_cost_changes_nothing_in_the_totals() -> None:
    data = _golden()
    before = view.totals(view.build(data["skus"], data["contracts"], include_all=True))
    extra = _sku("EXTRA_UNMANAGED", enabled=100, consumed=1, sku_id="extra")
    contracts = [*data["contracts"], _terms(extra, "999.99", managed=False)]
    for include_all in (False, True):
        after = view.totals(view.build([*data["skus"], extra], contracts, include_all))
        assert after == before
    # and the same SKU, managed, does count: the test above is not vacuous
    managed = [*data["contracts"], _terms(extra, "999.99", managed=True)]
    assert view.totals(view.build([*data["skus"], extra], managed)) != before


def test_unmanaged_and_retired_skus_keep_their_terms_but_have_no_amounts() -> None:
    unmanaged, retired = _sku("U"), _sku("R", retired=True)
    found = view.build(
        [unmanaged, retired],
        [_terms(unmanaged, "5", managed=False), _terms(retired, "5")],
        include_all=True,
    )
    assert [(p.sku_part_number, p.managed, p.cost) for p in found] == [
        ("R", True, Decimal(5)),
        ("U", False, Decimal(5)),
    ]
    assert all(p.annual_cost is None and p.unused_annual_cost is None for p in found)
    assert view.build([unmanaged, retired], [_terms(unmanaged, "5", managed=False)]) == []


amounts = st.decimals(min_value=0, max_value=10_000, places=4, allow_nan=False)
positions = st.builds(
    lambda cost, currency, frequency, enabled, consumed, managed: view.position(
        _sku(enabled=enabled, consumed=consumed),
        {
            "sku_id": "x",
            "cost": cost,
            "currency": currency,
            "payment_frequency": frequency,
            "managed": managed,
        },
    ),
    amounts,
    st.sampled_from(["EUR", "USD", "GBP"]),
    st.sampled_from(["monthly", "annual"]),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.booleans(),
)


@given(st.lists(positions, max_size=12))
def test_each_total_is_the_exact_sum_of_its_currency(found: list[view.LicensePosition]) -> None:
    totals = view.totals(found)
    assert len({t.currency for t in totals}) == len(totals)
    for total in totals:
        mine = [p for p in found if p.managed and p.currency == total.currency]
        assert total.skus == len(mine)
        assert total.annual_cost == sum((p.annual_cost or 0 for p in mine), Decimal(0))
        assert total.unused_annual_cost == sum(
            (p.unused_annual_cost or 0 for p in mine), Decimal(0)
        )
    unmanaged = [replace(p, managed=False, annual_cost=None) for p in found]
    assert view.totals(found + unmanaged) == totals


# -- licence types, money, validation ------------------------------------------------------


@pytest.mark.parametrize(
    ("sku_id", "part", "expected"),
    [
        ("a403ebcc-fae0-4ca2-8c8c-7a907fd6c235", "POWER_BI_STANDARD", "free"),
        ("a403ebcc-fae0-4ca2-8c8c-7a907fd6c235", None, "free"),  # known by its skuId alone
        ("f30db892-07e9-47e9-837c-80727f46fd3d", "FLOW_FREE", "free"),
        ("710779e8-3d4a-4c88-adb9-386c958d1fdf", "TEAMS_EXPLORATORY", "free"),
        ("x", "SOMETHING_FREE_EDITION", "free"),
        ("x", "power_bi_standard", "free"),
        ("dcb1a3ae-b33f-4487-846a-a640262fadf4", "POWERAPPS_VIRAL", "trial"),
        ("x", "POWER_BI_PRO_TRIAL", "trial"),
        ("x", "FLOW_VIRAL", "trial"),
        ("x", "FREE_TRIAL_THING", "trial"),
        ("6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK", "paid"),
        ("x", "SPE_E5", "paid"),
        ("abc-def", "abc-def", "unknown"),
        ("abc-def", "", "unknown"),
        ("abc-def", None, "unknown"),
    ],
)
def test_license_type(sku_id: str, part: str | None, expected: str) -> None:
    assert view.license_type(sku_id, part) == expected


def test_license_types_agree_with_the_simulated_catalogue() -> None:
    for sku in catalog.skus().values():
        assert view.license_type(sku.id, sku.part_number) == sku.kind, sku.part_number


@pytest.mark.parametrize(
    ("value", "as_money", "as_price"),
    [
        ("0", "0.00", "0.00"),
        ("12.3456", "12.35", "12.3456"),
        ("12.5", "12.50", "12.50"),
        ("0.005", "0.01", "0.005"),
        ("1000", "1000.00", "1000.00"),
        ("1E+3", "1000.00", "1000.00"),
        ("1481.472", "1481.47", "1481.472"),
    ],
)
def test_money_and_price_strings(value: str, as_money: str, as_price: str) -> None:
    assert view.money(Decimal(value)) == as_money
    assert view.price(Decimal(value)) == as_price
    assert view.money(None) is None and view.price(None) is None


def test_parse_valid_terms() -> None:
    assert view.parse_cost("12.3456") == Decimal("12.3456")
    assert view.parse_cost(" 0 ") == Decimal(0)
    assert view.parse_cost("-0") == Decimal(0) and not view.parse_cost("-0").is_signed()
    assert view.parse_cost("10.50000") == Decimal("10.5")
    assert view.parse_currency("EUR") == "EUR"
    assert view.parse_frequency("Annual") == "annual"
    assert view.parse_date("2026-01-31", "--effective-date") == date(2026, 1, 31)


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (view.parse_cost, "-1"),
        (view.parse_cost, "12.34567"),
        (view.parse_cost, "12,50"),
        (view.parse_cost, "NaN"),
        (view.parse_cost, "Infinity"),
        (view.parse_cost, "ten"),
        (view.parse_cost, ""),
        (view.parse_cost, "1000000000"),
        (view.parse_currency, "eur"),
        (view.parse_currency, "EURO"),
        (view.parse_currency, "E1R"),
        (view.parse_currency, "ÉUR"),
        (view.parse_frequency, "weekly"),
        (lambda text: view.parse_date(text, "--expiration-date"), "31/01/2026"),
        (lambda text: view.parse_date(text, "--expiration-date"), "2026-02-30"),
    ],
)
def test_bad_terms_are_usage_errors(parse: Any, text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    message = str(caught.value)
    assert message.endswith(".") and message.count(". ") == 0 and "\n" not in message
    assert caught.value.exit_code == 2


def test_contract_checks() -> None:
    view.check_contract("E3", {"effective_date": date(2026, 1, 1), "expiration_date": None})
    view.check_contract(
        "E3", {"effective_date": date(2026, 1, 1), "expiration_date": date(2026, 1, 1)}
    )
    with pytest.raises(UsageError, match="before its effective date"):
        view.check_contract(
            "E3", {"effective_date": date(2026, 1, 2), "expiration_date": date(2026, 1, 1)}
        )
    with pytest.raises(UsageError, match="needs --currency and --payment-frequency"):
        view.check_contract("E3", {"cost": Decimal(1)})
    with pytest.raises(UsageError, match="needs --payment-frequency"):
        view.check_contract("E3", {"cost": Decimal(1), "currency": "EUR"})


def test_expiring_excludes_unmanaged_and_refuses_negative_days() -> None:
    sku = _sku()
    end = date(2026, 12, 1)
    (unmanaged,) = view.build([sku], [_terms(sku, "1", managed=False, expiration_date=end)], True)
    assert view.expiring([unmanaged], date(2026, 11, 30)) == []
    with pytest.raises(ValueError):
        view.expiring([], date(2026, 11, 30), -1)


# -- the CLI against the simulator ---------------------------------------------------------


def _by_part(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["sku_part_number"]: r for r in records}


def _listed(cli: Seatwise, *args: str) -> dict[str, dict[str, Any]]:
    result = cli("licenses", "--format", "json", *args)
    assert result.code == 0, result.err
    return _by_part(result.json())


def _contract(cli: Seatwise, sku_id: str) -> dict[str, Any]:
    engine = create_engine(cli.database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(LicenseContract.__table__).where(LicenseContract.sku_id == sku_id)
            ).one()
            return dict(row._mapping)
    finally:
        engine.dispose()


def _fails_cleanly(result: Any, *words: str) -> None:
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err and result.out == ""
    for word in words:
        assert word in result.err, result.err


def test_positions_match_the_tenant_and_contracts_survive_syncs(
    cli: Seatwise, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=80) as sim:
        assert cli.add_app_only(sim).code == 0
        assert cli("sync").code == 0
        records = cli("licenses", "--format", "json").json()
        assert records and all(list(r) == list(view.KEYS) for r in records)
        tenant = sim.tenant
        listed = _by_part(records)
        for holding in tenant.holdings.values():
            sku = catalog.skus()[holding.sku_id]
            record = listed[sku.part_number]
            assert record["sku_id"] == sku.id and record["name"]
            assert record["purchased"] == holding.enabled
            assert record["assigned"] == tenant.consumed.get(sku.id, 0)
            assert record["available"] == holding.enabled - tenant.consumed.get(sku.id, 0)
            assert (record["suspended"], record["warning"]) == (holding.suspended, holding.warning)
            assert record["license_type"] == sku.kind
            assert record["managed"] is True and record["cost"] is None
            assert record["annual_cost"] is None and record["unused_annual_cost"] is None

        set_ = cli(
            "license", "set", "enterprisepack", "--cost", "12.3456", "--currency", "EUR",
            "--payment-frequency", "monthly", "--effective-date", "2026-01-01",
            "--expiration-date", "2026-12-31",
        )  # fmt: skip
        assert set_.code == 0, set_.err
        e3 = _listed(cli)["ENTERPRISEPACK"]
        purchased, available = e3["purchased"], e3["available"]
        assert (e3["cost"], e3["currency"], e3["payment_frequency"]) == (
            "12.3456",
            "EUR",
            "monthly",
        )
        assert (e3["effective_date"], e3["expiration_date"]) == ("2026-01-01", "2026-12-31")
        assert e3["annual_cost"] == view.money(Decimal("12.3456") * 12 * purchased)
        assert e3["unused_annual_cost"] == view.money(Decimal("12.3456") * 12 * max(available, 0))
        stored = _contract(cli, e3["sku_id"])
        assert stored["updated_by"] == current_actor() and stored["updated_at"] is not None

        # The tenant buys 5 more: the next sync changes the units, never the contract.
        tenant.holdings[e3["sku_id"]].enabled += 5
        assert cli("sync").code == 0
        assert cli("sync", "--task", "license-info").code == 0
        again = _listed(cli)["ENTERPRISEPACK"]
        assert again["purchased"] == purchased + 5
        assert again["annual_cost"] == view.money(Decimal("12.3456") * 12 * (purchased + 5))
        assert {k: again[k] for k in ("cost", "currency", "payment_frequency")} == {
            k: e3[k] for k in ("cost", "currency", "payment_frequency")
        }
        assert _contract(cli, e3["sku_id"]) == stored

        # Changing one term keeps the others.
        assert cli("license", "set", e3["sku_id"].upper(), "--cost", "13").code == 0
        changed = _listed(cli)["ENTERPRISEPACK"]
        assert (changed["cost"], changed["currency"], changed["expiration_date"]) == (
            "13.00",
            "EUR",
            "2026-12-31",
        )


def test_unmanaged_totals_all_and_renewals(cli: Seatwise, tmp_path: Path) -> None:
    today = date.today()
    with serve(tmp_path / "sim", users=80) as sim:
        assert cli.add_app_only(sim).code == 0
        assert cli("sync").code == 0
        parts = list(_listed(cli))
        e3, other = "ENTERPRISEPACK", next(p for p in parts if p != "ENTERPRISEPACK")
        for part, cost, currency, days in ((e3, "10", "EUR", 10), (other, "7.5", "USD", 200)):
            result = cli(
                "license", "set", part, "--cost", cost, "--currency", currency,
                "--payment-frequency", "annual",
                "--expiration-date", (today + timedelta(days=days)).isoformat(),
            )  # fmt: skip
            assert result.code == 0, result.err
        listed = _listed(cli)
        totals = cli("licenses", "--totals", "--format", "json")
        assert totals.code == 0, totals.err
        expected = [
            {
                "currency": listed[part]["currency"],
                "annual_cost": listed[part]["annual_cost"],
                "unused_annual_cost": listed[part]["unused_annual_cost"],
                "skus": 1,
            }
            for part in (e3, other)
        ]
        assert totals.json() == sorted(expected, key=lambda t: t["currency"])

        soon = cli("licenses", "--expiring", "--format", "json")
        assert [r["sku_part_number"] for r in soon.json()] == [e3]
        later = cli("licenses", "--expiring", "--days", "365", "--format", "json")
        assert [r["sku_part_number"] for r in later.json()] == [e3, other]

        # Unmanaged: gone from the list, the totals and the horizon; back with --all.
        assert cli("license", "set", other, "--unmanaged").code == 0
        assert other not in _listed(cli)
        every = _listed(cli, "--all")
        assert every[other]["managed"] is False and every[other]["cost"] == "7.50"
        assert every[other]["annual_cost"] is None and every[other]["unused_annual_cost"] is None
        assert cli("licenses", "--totals", "--format", "json").json() == [expected[0]]
        later = cli("licenses", "--expiring", "--days", "365", "--format", "json")
        assert [r["sku_part_number"] for r in later.json()] == [e3]
        assert cli("license", "set", other, "--managed").code == 0
        assert _listed(cli)[other]["annual_cost"] == listed[other]["annual_cost"]

        # A SKU the tenant no longer subscribes to is retired: listed only with --all.
        del sim.tenant.holdings[_listed(cli)[e3]["sku_id"]]
        assert cli("sync", "--task", "license-info").code == 0
        assert e3 not in _listed(cli)
        assert _listed(cli, "--all")[e3]["annual_cost"] is None
        assert [t["currency"] for t in cli("licenses", "--totals", "--format", "json").json()] == [
            "USD"
        ]

        table = cli("licenses")
        assert table.code == 0, table.err
        assert "Annual cost per currency" in table.out and "USD" in table.out
        csv = cli("licenses", "--format", "csv", "--all")
        assert csv.code == 0 and csv.out.splitlines()[0] == ",".join(view.KEYS)


def test_bad_input_exits_2_with_one_sentence_and_writes_nothing(
    cli: Seatwise, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=40) as sim:
        assert cli.add_app_only(sim).code == 0
        before_sync = cli("license", "set", "ENTERPRISEPACK", "--cost", "1")
        _fails_cleanly(before_sync, "no SKUs yet", "seatwise sync")
        assert cli("sync").code == 0
    before = cli("licenses", "--format", "json", "--all").json()
    known = sorted(_by_part(before), key=str.casefold)
    _fails_cleanly(cli("license", "set", "NOPE_E9", "--cost", "1"), "NOPE_E9", *known)
    _fails_cleanly(cli("license", "set", "ENTERPRISEPACK"), "at least one of")
    bad = [
        (["--cost", "-1"], "0 or more"),
        (["--cost", "1.23456", "--currency", "EUR"], "at most 4 decimals"),
        (["--cost", "ten"], "number"),
        (["--currency", "eur"], "three upper-case letters"),
        (["--payment-frequency", "weekly"], "monthly or annual"),
        (["--effective-date", "31.01.2026"], "ISO date"),
        (["--effective-date", "2026-02-01", "--expiration-date", "2026-01-31"], "before"),
        (["--cost", "10"], "needs --currency and --payment-frequency"),
    ]
    for options, words in bad:
        _fails_cleanly(cli("license", "set", "ENTERPRISEPACK", *options), words)
    assert cli("license", "set", "ENTERPRISEPACK", "--effective-date", "2026-02-01").code == 0
    _fails_cleanly(
        cli("license", "set", "ENTERPRISEPACK", "--expiration-date", "2026-01-31"),
        "before its effective date (2026-02-01)",
    )
    after = cli("licenses", "--format", "json", "--all").json()
    e3 = next(r for r in after if r["sku_part_number"] == "ENTERPRISEPACK")
    assert e3["effective_date"] == "2026-02-01" and e3["expiration_date"] is None
    assert [r for r in after if r is not e3] == [r for r in before if r["sku_id"] != e3["sku_id"]]

    _fails_cleanly(cli("licenses", "--days", "30"), "--expiring")
    _fails_cleanly(cli("licenses", "--expiring", "--days", "-1"), "0 or more")
    _fails_cleanly(cli("licenses", "--totals", "--expiring"), "not both")
    _fails_cleanly(cli("licenses", "--all", "--totals"), "--all")
    _fails_cleanly(cli("licenses", "--tenant", "nosuch"), "nosuch")
