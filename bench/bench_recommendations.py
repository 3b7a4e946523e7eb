"""Recommendations end to end for a synthetic 100k-user tenant (target ≤ 10 s): a SQLite store
built with `store.writes.upsert_rows` (users, SKUs and plans, contracts, assignments, 11 activity
rows and 30 daily snapshots per user, report refresh dates), then loader + rules + JSON, timed.
"""

from __future__ import annotations

import io
import os
import random
import tempfile
import time
import uuid
from contextlib import redirect_stdout
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import event

from bench.record import record
from seatwise.analytics.inputs import recommendations as inputs
from seatwise.analytics.recommendations import KEYS, Policy, evaluate
from seatwise.cli.output import OutputFormat, emit
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

USERS = int(os.environ.get("BENCH_RECOMMENDATIONS_USERS", "100000"))
SNAPSHOT_DAYS = 30
AS_OF = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 6, tzinfo=UTC)
PLANS = {
    "ENTERPRISEPACK": [
        "EXCHANGE_S_ENTERPRISE",
        "TEAMS1",
        "SHAREPOINTENTERPRISE",
        "OFFICESUBSCRIPTION",
        "MCOSTANDARD",
        "YAMMER_ENTERPRISE",
    ],
    "SPE_E3": [
        "EXCHANGE_S_ENTERPRISE",
        "TEAMS1",
        "SHAREPOINTENTERPRISE",
        "OFFICESUBSCRIPTION",
        "MCOSTANDARD",
        "YAMMER_ENTERPRISE",
        "AAD_PREMIUM",
        "INTUNE_A",
    ],
    "SPE_E5": [
        "EXCHANGE_S_ENTERPRISE",
        "TEAMS1",
        "SHAREPOINTENTERPRISE",
        "OFFICESUBSCRIPTION",
        "MCOSTANDARD",
        "YAMMER_ENTERPRISE",
        "AAD_PREMIUM",
        "INTUNE_A",
        "BI_AZURE_P2",
        "MCOEV",
        "MCOMEETADV",
        "ATP_ENTERPRISE",
        "MTP",
    ],
    "SPE_F1": ["EXCHANGE_S_DESKLESS", "TEAMS1", "SHAREPOINTDESKLESS", "MCOIMP"],
    "POWER_BI_PRO": ["BI_AZURE_P2", "EXCHANGE_S_FOUNDATION"],
    "VISIOCLIENT": ["VISIO_CLIENT_SUBSCRIPTION", "VISIOONLINE"],
}
IDS = {part: sid for sid, (part, _) in PRODUCTS.items()}
PRICES = {
    "ENTERPRISEPACK": "23.00",
    "SPE_E3": "36.00",
    "SPE_E5": "57.00",
    "SPE_F1": "8.00",
    "POWER_BI_PRO": "10.00",
}


def plan_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def build(path: Path) -> None:
    rng = random.Random(7)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    t = time.perf_counter()
    with session_scope(engine) as s:
        writes.upsert_rows(
            s,
            Tenant,
            [
                {
                    "pk": 1,
                    "name": "bench",
                    "tenant_id": "t",
                    "client_id": "c",
                    "auth_mode": "app",
                    "premium": True,
                    "concealed_names": False,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
            key=("pk",),
        )
        writes.upsert_rows(
            s,
            Sku,
            [
                {
                    "tenant_pk": 1,
                    "sku_id": IDS[p],
                    "part_number": p,
                    "name": None,
                    "enabled": USERS,
                    "consumed": 0,
                    "fingerprint": p,
                    "updated_at": NOW,
                }
                for p in PLANS
            ],
            key=("tenant_pk", "sku_id"),
        )
        writes.upsert_rows(
            s,
            SkuPlan,
            [
                {"tenant_pk": 1, "sku_id": IDS[p], "plan_id": plan_id(n), "plan_name": n}
                for p, ns in PLANS.items()
                for n in ns
            ],
            key=("tenant_pk", "sku_id", "plan_id"),
        )
        writes.upsert_rows(
            s,
            LicenseContract,
            [
                {
                    "tenant_pk": 1,
                    "sku_id": IDS[p],
                    "cost": Decimal(c),
                    "currency": "EUR",
                    "payment_frequency": "monthly",
                    "managed": True,
                    "updated_at": NOW,
                }
                for p, c in PRICES.items()
            ],
            key=("tenant_pk", "sku_id"),
        )
        writes.upsert_rows(
            s,
            ReportRefresh,
            [
                {
                    "tenant_pk": 1,
                    "report": r,
                    "refresh_date": AS_OF - timedelta(days=3),
                    "fetched_at": NOW,
                    "concealed": False,
                    "rows": USERS,
                }
                for r in (
                    "getOffice365ActiveUserDetail",
                    "getEmailActivityUserDetail",
                    "getMailboxUsageDetail",
                    "getOneDriveUsageAccountDetail",
                    "getM365AppUserDetail",
                )
            ],
            key=("tenant_pk", "report"),
        )
        users, assignments, activity, snapshots = [], [], [], []
        for i in range(USERS):
            uid = str(uuid.UUID(int=rng.getrandbits(128)))
            users.append(
                {
                    "tenant_pk": 1,
                    "id": uid,
                    "upn": f"user{i:06d}@bench.test",
                    "account_enabled": rng.random() > 0.03,
                    "user_type": "Guest" if rng.random() < 0.05 else "Member",
                    "created_at": NOW - timedelta(days=rng.randrange(30, 2000)),
                    "deleted_at": None,
                    "on_premises_sync": rng.random() < 0.3,
                    "mfa_registered": rng.random() < 0.6,
                    "last_sign_in": NOW - timedelta(days=rng.randrange(0, 300)),
                    "first_seen": date(2025, 1, 1),
                    "fingerprint": str(i),
                }
            )
            if rng.random() < 0.15:
                continue  # unlicensed
            main = rng.choice(["ENTERPRISEPACK", "SPE_E3", "SPE_E5", "SPE_F1"])
            parts = (
                [main]
                + (["POWER_BI_PRO"] if rng.random() < 0.15 else [])
                + (["VISIOCLIENT"] if rng.random() < 0.05 else [])
            )
            for p in parts:
                assignments.append(
                    {
                        "tenant_pk": 1,
                        "user_id": uid,
                        "sku_id": IDS[p],
                        "via": "",
                        "disabled_plans": [],
                        "state": "Active",
                        "last_updated": NOW - timedelta(days=rng.randrange(1, 900)),
                    }
                )
            inactive = rng.random() < 0.15
            for svc in SERVICES:
                last = (
                    None
                    if rng.random() < 0.3
                    else AS_OF
                    - timedelta(days=rng.randrange(100 if inactive else 0, 400 if inactive else 60))
                )
                activity.append(
                    {
                        "tenant_pk": 1,
                        "user_id": uid,
                        "service": svc,
                        "last_activity": last,
                        "licensed": True,
                        "license_assigned": None,
                        "source": "bench",
                        "as_of": AS_OF - timedelta(days=3),
                        "available": svc != "Visio",
                    }
                )
            web_only = rng.random() < 0.2
            for d in range(SNAPSHOT_DAYS):
                snapshots.append(
                    {
                        "tenant_pk": 1,
                        "user_id": uid,
                        "day": AS_OF - timedelta(days=3 + d),
                        "mail_mb": rng.random() * 4000,
                        "onedrive_mb": rng.random() * 3000,
                        "windows": not web_only,
                        "mac": False,
                        "mobile": rng.random() < 0.5,
                        "web": True,
                        "activations": 1,
                    }
                )
        writes.upsert_rows(s, User, users, key=("tenant_pk", "id"))
        writes.upsert_rows(
            s, LicenseAssignment, assignments, key=("tenant_pk", "user_id", "sku_id", "via")
        )
        writes.upsert_rows(s, ServiceActivity, activity, key=("tenant_pk", "user_id", "service"))
        writes.upsert_rows(s, UsageSnapshot, snapshots, key=("tenant_pk", "user_id", "day"))
    global FACTS
    FACTS = (
        f"{USERS:,} users, {len(assignments):,} assignments, {len(activity):,} activity rows, "
        f"{len(snapshots):,} snapshots"
    )
    print(f"built {FACTS} in {time.perf_counter() - t:.1f} s")
    engine.dispose()


FACTS = ""


def run(path: Path) -> tuple[float, float, int, int]:
    engine = make_engine(f"sqlite:///{path}")
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        tenant = inputs.tenant_facts(session, 1)
        users = (u for batch in inputs.iter_user_facts(session, 1) for u in batch)
        found = evaluate(users, tenant, Policy(), AS_OF)
    t1 = time.perf_counter()
    out = io.StringIO()
    with redirect_stdout(out):
        n = emit((r.record() for r in found), KEYS, OutputFormat.json)
    t2 = time.perf_counter()
    engine.dispose()
    print(f"load + rules {t1 - t0:.2f} s, JSON {t2 - t1:.2f} s, {n:,} results, {statements} SQL")
    return t1 - t0, t2 - t0, n, statements


def main() -> None:
    """Build the store once, run three times, record the best and worst."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        build(path)
        runs = [run(path) for _ in range(3)]
    totals = [r[1] for r in runs]
    best, worst = min(totals), max(totals)
    verdict = "met" if best <= 10 else f"MISSED by {best / 10:.2f}×"
    record(
        "recommendations",
        f"Recommendations for {USERS:,} users, SQLite",
        f"""Synthetic store: {FACTS}. Loader + every rule + JSON output of all results, three runs.

| measure | value |
|---|---|
| end to end, best / worst of 3 | {best:.1f} s / {worst:.1f} s (≤ 10 s, best run: {verdict}) |
| load + rules (best) | {min(r[0] for r in runs):.1f} s |
| results | {runs[0][2]:,} |
| SQL statements per run | {runs[0][3]} |
""",
    )
