"""Recommendations: golden scenarios (small hand-built tenants in tests/data/scenarios, stored
with `store.writes` in a fresh SQLite database — and PostgreSQL when available — then loaded,
judged and compared with the expected results), the policy and savings arithmetic, and
`seatwise recommendations` end to end against the simulator.
"""

from __future__ import annotations

import os
import shutil
import tomllib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from seatwise.analytics.inputs import recommendations as inputs
from seatwise.analytics.recommendations import KEYS, RULES, Contract, Policy, evaluate
from seatwise.analytics.recommendations.model import ACTIONS, CONFIDENCES
from seatwise.analytics.recommendations.savings import money, reclaim_saving, renewal, when
from seatwise.config import RecommendationSettings
from seatwise.services import SERVICES
from seatwise.skus import PRODUCTS
from seatwise.store import make_engine, session_scope, upgrade, writes
from seatwise.store.schema import (
    LicenseAssignment,
    LicenseContract,
    ReportRefresh,
    ServiceActivity,
    Sku,
    SkuPlan,
    Tenant,
    UsageSnapshot,
    User,
)
from tests.sync.conftest import (  # noqa: F401  (database_url is a fixture)
    PG_ENV,
    Seatwise,
    _postgres_schema_url,
    database_url,
    serve,
)

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"
FILES = sorted(p for p in SCENARIOS.glob("*.toml") if not p.name.startswith("_"))
CATALOG = tomllib.loads((SCENARIOS / "_catalog.toml").read_text(encoding="utf-8"))["plans"]
REPORTS = (
    "getOffice365ActiveUserDetail",
    "getEmailActivityUserDetail",
    "getMailboxUsageDetail",
    "getOneDriveUsageAccountDetail",
    "getM365AppUserDetail",
    "getOffice365ActivationsUserDetail",
)
MANDATORY = ("rule", "upn", "action", "skus", "target_sku", "when", "annual_savings")
OPTIONAL = ("currency", "confidence")
STAMP = datetime(2026, 1, 1, tzinfo=UTC)
PART_IDS = {part: sku_id for sku_id, (part, _) in PRODUCTS.items()}
TENANT_PK = 1


def _plan_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"plan:{name}"))


def _sku_id(part: str) -> str:
    return PART_IDS.get(part) or str(uuid.uuid5(uuid.NAMESPACE_URL, f"sku:{part}"))


def _user_id(upn: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"user:{upn}"))


# --- storing a scenario -------------------------------------------------------------------


def _tenant_rows(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    tenant = scenario.get("tenant", {})
    return [
        {
            "pk": TENANT_PK,
            "name": "scenario",
            "tenant_id": "00000000-0000-0000-0000-000000000001",
            "client_id": "00000000-0000-0000-0000-000000000002",
            "auth_mode": "app",
            "premium": tenant.get("premium", True),
            "concealed_names": tenant.get("concealed_names", False),
            "created_at": STAMP,
            "updated_at": STAMP,
        }
    ]


def _sku_rows(scenario: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    skus, plans = [], []
    for part in scenario.get("skus", []):
        sku_id = _sku_id(part)
        skus.append(
            {
                "tenant_pk": TENANT_PK,
                "sku_id": sku_id,
                "part_number": part,
                "name": None,
                "enabled": 100,
                "consumed": 10,
                "fingerprint": part,
                "updated_at": STAMP,
            }
        )
        plans.extend(
            {
                "tenant_pk": TENANT_PK,
                "sku_id": sku_id,
                "plan_id": _plan_id(name),
                "plan_name": name,
            }
            for name in CATALOG[part]
        )
    return skus, plans


def _contract_rows(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "tenant_pk": TENANT_PK,
            "sku_id": _sku_id(c["sku"]),
            "cost": Decimal(c["cost"]) if "cost" in c else None,
            "currency": c.get("currency"),
            "payment_frequency": c.get("payment_frequency"),
            "effective_date": c.get("effective_date"),
            "expiration_date": c.get("expiration_date"),
            "managed": c.get("managed", True),
            "updated_at": STAMP,
        }
        for c in scenario.get("contracts", [])
    ]


def _report_rows(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    as_of: date = scenario["as_of"]
    default = [
        {"name": name, "refresh_date": date.fromordinal(as_of.toordinal() - 3)} for name in REPORTS
    ]
    return [
        {
            "tenant_pk": TENANT_PK,
            "report": r["name"],
            "refresh_date": r.get("refresh_date"),
            "fetched_at": STAMP,
            "concealed": r.get("concealed", False),
            "rows": 1,
        }
        for r in scenario.get("reports", default)
    ]


def _user_rows(scenario: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {
        "user": [],
        "assignment": [],
        "activity": [],
        "snapshot": [],
    }
    as_of: date = scenario["as_of"]
    for user in scenario.get("users", []):
        user_id = _user_id(user["upn"])
        rows["user"].append(
            {
                "tenant_pk": TENANT_PK,
                "id": user_id,
                "upn": user["upn"],
                "account_enabled": user.get("account_enabled", True),
                "user_type": user.get("user_type", "Member"),
                "kind": user.get("kind"),
                "created_at": user.get("created_at", datetime(2025, 1, 1, tzinfo=UTC)),
                "deleted_at": user.get("deleted_at"),
                "on_premises_sync": user.get("on_premises_sync", False),
                "mfa_registered": user.get("mfa_registered", False),
                "last_sign_in": user.get("last_sign_in"),
                "first_seen": date(2025, 1, 1),
                "fingerprint": user["upn"],
            }
        )
        for lic in user.get("licenses", []):
            rows["assignment"].append(
                {
                    "tenant_pk": TENANT_PK,
                    "user_id": user_id,
                    "sku_id": _sku_id(lic["sku"]),
                    "via": lic.get("via", ""),
                    "disabled_plans": sorted(_plan_id(p) for p in lic.get("disabled", [])),
                    "state": "Active",
                    "last_updated": lic.get("assigned", datetime(2025, 6, 1, tzinfo=UTC)),
                }
            )
        activity = dict(user.get("activity", {}))
        for service in user.get("unavailable", []):
            activity[service] = None
        for service, last in activity.items():
            assert service in SERVICES, f"unknown service {service!r}"
            rows["activity"].append(
                {
                    "tenant_pk": TENANT_PK,
                    "user_id": user_id,
                    "service": service,
                    "last_activity": None if last == "never" else last,
                    "licensed": True,
                    "license_assigned": None,
                    "source": "scenario",
                    "as_of": as_of,
                    "available": service not in user.get("unavailable", []),
                }
            )
        snapshots = user.get("snapshots") or ([user["snapshot"]] if "snapshot" in user else [])
        for snap in snapshots:
            rows["snapshot"].append(
                {
                    "tenant_pk": TENANT_PK,
                    "user_id": user_id,
                    "day": snap.get("day", date.fromordinal(as_of.toordinal() - 3)),
                    "mail_mb": snap.get("mail_mb"),
                    "onedrive_mb": snap.get("onedrive_mb"),
                    "windows": snap.get("windows"),
                    "mac": snap.get("mac"),
                    "mobile": snap.get("mobile"),
                    "web": snap.get("web"),
                    "activations": None,
                }
            )
    return rows


def store_scenario(engine: Engine, scenario: dict[str, Any]) -> None:
    """Write the scenario's tenant through `store.writes`, as the sync would."""
    skus, plans = _sku_rows(scenario)
    users = _user_rows(scenario)
    with session_scope(engine) as session:
        writes.upsert_rows(session, Tenant, _tenant_rows(scenario), key=("pk",))
        writes.upsert_rows(session, Sku, skus, key=("tenant_pk", "sku_id"))
        writes.upsert_rows(session, SkuPlan, plans, key=("tenant_pk", "sku_id", "plan_id"))
        writes.upsert_rows(
            session, LicenseContract, _contract_rows(scenario), key=("tenant_pk", "sku_id")
        )
        writes.upsert_rows(
            session, ReportRefresh, _report_rows(scenario), key=("tenant_pk", "report")
        )
        writes.upsert_rows(session, User, users["user"], key=("tenant_pk", "id"))
        writes.upsert_rows(
            session,
            LicenseAssignment,
            users["assignment"],
            key=("tenant_pk", "user_id", "sku_id", "via"),
        )
        writes.upsert_rows(
            session, ServiceActivity, users["activity"], key=("tenant_pk", "user_id", "service")
        )
        writes.upsert_rows(
            session, UsageSnapshot, users["snapshot"], key=("tenant_pk", "user_id", "day")
        )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once; each scenario gets a copy."""
    path = tmp_path_factory.mktemp("template") / "seatwise.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A fresh store per scenario: a copy of the migrated SQLite file, and a migrated schema of
    its own on PostgreSQL when SEATWISE_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        path = tmp_path / "seatwise.db"
        shutil.copy(template, path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    for url in _postgres_schema_url(base):
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


def judge(engine: Engine, scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """Store, load (two users per batch, to cross batch edges) and evaluate a scenario."""
    store_scenario(engine, scenario)
    settings = RecommendationSettings.model_validate(scenario.get("policy", {}))
    policy = Policy.from_mapping(settings.model_dump())
    with session_scope(engine) as session:
        tenant = inputs.tenant_facts(session, TENANT_PK)
        users = [u for b in inputs.iter_user_facts(session, TENANT_PK, batch=2) for u in b]
    return [r.record() for r in evaluate(users, tenant, policy, scenario["as_of"])]


def _project(record: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    shown = {k: record[k] for k in MANDATORY}
    shown.update({k: record[k] for k in OPTIONAL if k in expected})
    if "evidence" in expected:
        text = " ".join(record["evidence"])
        shown["evidence"] = [e for e in expected["evidence"] if e in text]
    return shown


def _expected(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: entry.get(k) for k in MANDATORY},
        **{k: entry[k] for k in (*OPTIONAL, "evidence") if k in entry},
    }


# --- the golden scenarios -----------------------------------------------------------------


SCENARIO_KEYS = {"description", "as_of", "skus", "tenant", "reports", "contracts", "policy"}
SCENARIO_KEYS |= {"users", "expected"}
USER_KEYS = {
    "upn", "account_enabled", "user_type", "kind", "created_at", "deleted_at", "on_premises_sync",
    "mfa_registered", "last_sign_in", "licenses", "activity", "unavailable", "snapshot",
    "snapshots",
}  # fmt: skip
EXPECTED_KEYS = {*MANDATORY, *OPTIONAL, "evidence"}


def _check_keys(scenario: dict[str, Any]) -> None:
    """A misspelt key would silently mean a default: refuse unknown ones."""
    assert set(scenario) <= SCENARIO_KEYS, set(scenario) - SCENARIO_KEYS
    for user in scenario.get("users", []):
        assert set(user) <= USER_KEYS, (user["upn"], set(user) - USER_KEYS)
    for entry in scenario.get("expected", []):
        assert set(entry) <= EXPECTED_KEYS, set(entry) - EXPECTED_KEYS


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario(path: Path, engine: Engine) -> None:
    scenario = tomllib.loads(path.read_text(encoding="utf-8"))
    _check_keys(scenario)
    records = judge(engine, scenario)
    for record in records:
        assert tuple(record) == KEYS
        assert record["action"] in ACTIONS
        assert record["confidence"] in CONFIDENCES
        assert record["evidence"] and all(isinstance(e, str) and e for e in record["evidence"])
        assert record["when"] == "now" or record["when"].startswith("at_renewal:")
        assert (record["annual_savings"] is None) == (record["currency"] is None)
    expected = [_expected(e) for e in scenario.get("expected", [])]
    projected = [
        _project(r, expected[i] if i < len(expected) else {}) for i, r in enumerate(records)
    ]
    assert projected == expected, scenario.get("description", path.stem)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_has_a_positive_and_a_negative_scenario(rule: str) -> None:
    stem = rule.replace("-", "_")
    positive = tomllib.loads((SCENARIOS / f"{stem}_positive.toml").read_text(encoding="utf-8"))
    negative = tomllib.loads((SCENARIOS / f"{stem}_negative.toml").read_text(encoding="utf-8"))
    assert any(e["rule"] == rule for e in positive["expected"])
    assert not any(e["rule"] == rule for e in negative.get("expected", []))
    assert negative.get("users"), "a negative scenario needs users the rule passes over"


# --- policy and money ---------------------------------------------------------------------


def test_settings_section_mirrors_the_policy() -> None:
    settings = RecommendationSettings()
    policy = Policy.from_mapping(settings.model_dump())
    assert policy == Policy()
    assert set(RecommendationSettings.model_fields) == set(Policy.__dataclass_fields__)


def test_policy_refuses_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown kind 'robot'"):
        Policy(exclude_kinds=("robot",))


def test_money_rounds_half_up() -> None:
    assert money(Decimal("23.005")) == "23.01"
    assert money(Decimal("276")) == "276.00"


def test_renewal() -> None:
    as_of = date(2026, 11, 27)
    annual = Contract(Decimal("100"), "EUR", "annual", expiration_date=date(2027, 3, 31))
    assert when(annual, as_of) == "at_renewal:2027-03-31"
    lapsed = Contract(Decimal("100"), "EUR", "annual", expiration_date=date(2024, 2, 29))
    assert renewal(lapsed, as_of) == date(2027, 2, 28)
    by_start = Contract(Decimal("100"), "EUR", "annual", effective_date=date(2026, 1, 15))
    assert renewal(by_start, as_of) == date(2027, 1, 15)
    assert when(Contract(Decimal("100"), "EUR", "annual"), as_of) == "now"
    assert when(Contract(Decimal("9"), "EUR", "monthly", None, date(2027, 1, 1)), as_of) == "now"
    assert when(None, as_of) == "now"


def test_currencies_are_never_added() -> None:
    as_of = date(2026, 11, 27)
    saving = reclaim_saving(
        [
            ("A", Contract(Decimal("10"), "EUR", "monthly")),
            ("B", Contract(Decimal("100"), "USD", "annual")),
            ("C", None),
        ],
        as_of,
    )
    assert saving.amount is None and saving.currency is None
    assert any("120.00 EUR, 100.00 USD" in e for e in saving.evidence)
    assert any("No cost is recorded for C" in e for e in saving.evidence)


# --- the command, against the simulator ---------------------------------------------------


@pytest.fixture
def seatwise(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,  # noqa: F811
) -> Seatwise:
    return Seatwise(monkeypatch, tmp_path / "data", database_url)


def test_command_against_the_simulator(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=120, seed=5) as sim:
        assert seatwise.add_app_only(sim).code == 0
        before = seatwise("recommendations", "--check", "--format", "json")
        assert (before.code, before.json()) == (0, []), before.err  # nothing synced yet
        assert seatwise("sync").code == 0
    result = seatwise("recommendations", "--format", "json")
    assert result.code == 0, result.err
    records = result.json()
    assert records, "the simulated tenant has blocked and inactive licensed users"
    for record in records:
        assert list(record) == list(KEYS)
    assert {"blocked"} <= {r["rule"] for r in records}
    assert records == sorted(records, key=lambda r: (r["rule"], r["upn"], r["skus"]))

    only = seatwise("recommendations", "--rule", "blocked", "--format", "json")
    assert only.code == 0
    assert only.json() == [r for r in records if r["rule"] == "blocked"]

    checked = seatwise("recommendations", "--check", "--format", "csv")
    assert checked.code == 1
    assert checked.out.splitlines()[0] == ",".join(KEYS)
    assert "recommendations found" in checked.err

    wrong = seatwise("recommendations", "--rule", "idle")
    assert wrong.code == 2
    assert "Unknown rule 'idle'" in wrong.err and "never-used" in wrong.err
