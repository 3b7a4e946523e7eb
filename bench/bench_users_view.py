"""Users view page latency: 100 rows with a filter and a sort, over 100k and 300k users on
SQLite (target: p95 ≤ 50 ms at 100k). The store is filled directly with synthetic rows shaped
like a synced tenant, since only the query is measured here.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.record import record
from seatwise.analytics.inputs import users as inputs
from seatwise.analytics.users import build
from seatwise.store import ensure_schema, make_engine, session_scope, writes
from seatwise.store.schema import (
    LicenseAssignment,
    ReportRefresh,
    Sku,
    Tenant,
    User,
    UserSummary,
)

SIZES = tuple(int(n) for n in os.environ.get("BENCH_VIEW_USERS", "100000,300000").split(","))
SKUS = {
    "05e9a617-0261-4cee-bb44-138d3ef5d965": "SPE_E3",
    "6fd2c87f-b296-42f0-b197-1e91e994b900": "ENTERPRISEPACK",
    "66b55226-6b4f-492c-910c-a3b7a3c9d993": "SPE_F1",
    "f8a1db68-be16-40ed-86d5-cb42ce701560": "POWER_BI_PRO",
}
QUERIES = {
    "licence SPE_E3, sort -last_activity": inputs.UserQuery(
        license="SPE_E3", sort="last_activity", descending=True
    ),
    "UPN contains 'ann', sort display_name": inputs.UserQuery(upn="ann", sort="display_name"),
    "inactive 90 days, sort -mail_usage_mb": inputs.UserQuery(
        inactive_days=90, sort="mail_usage_mb", descending=True
    ),
    "country + no MFA, sort upn": inputs.UserQuery(country="Germany", mfa=False, sort="upn"),
}


def _fill(url: str, n: int) -> int:
    rng = random.Random(n)
    engine = make_engine(url)
    ensure_schema(engine)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with session_scope(engine) as session:
        tenant = Tenant(
            name="bench",
            tenant_id="t",
            client_id="c",
            auth_mode="app",
            created_at=now,
            updated_at=now,
        )
        session.add(tenant)
        session.flush()
        pk = tenant.pk
        writes.upsert_rows(
            session,
            Sku,
            [
                {
                    "tenant_pk": pk,
                    "sku_id": sid,
                    "part_number": part,
                    "name": part,
                    "enabled": n,
                    "consumed": n // 2,
                    "fingerprint": "x",
                    "updated_at": now,
                }
                for sid, part in SKUS.items()
            ],
            key=("tenant_pk", "sku_id"),
        )
        # The reports' refresh date: the inactivity filter counts its days from it, and does
        # nothing without one (a synced tenant always has it).
        session.add(
            ReportRefresh(
                tenant_pk=pk,
                report="getOffice365ActiveUserDetail",
                refresh_date=date(2026, 11, 17),
                fetched_at=now,
                rows=n,
            )
        )
        users, summaries, assignments = [], [], []
        countries = ("Germany", "United States", "France", "India", "Japan")
        for i in range(n):
            uid = f"{i:08d}-0000-4000-8000-{rng.getrandbits(48):012x}"
            first, last = rng.choice(("Anna", "Ben", "Chen", "Dana", "Eli")), f"User{i}"
            users.append(
                {
                    "tenant_pk": pk,
                    "id": uid,
                    "upn": f"{first.lower()}.{last.lower()}@contoso.test",
                    "mail": None,
                    "given_name": first,
                    "surname": last,
                    "display_name": f"{first} {last}",
                    "account_enabled": rng.random() > 0.05,
                    "user_type": "Guest" if rng.random() < 0.08 else "Member",
                    "created_at": now - timedelta(days=rng.randrange(3000)),
                    "country": rng.choice(countries),
                    "mfa_registered": rng.random() < 0.6,
                    "first_seen": date(2026, 11, 1),
                    "fingerprint": "x",
                }
            )
            last_day = (
                None
                if rng.random() < 0.1
                else date(2026, 11, 17) - timedelta(days=int(rng.expovariate(1 / 30)))
            )
            user = users[-1]
            summaries.append(
                {
                    "tenant_pk": pk,
                    "user_id": uid,
                    **{
                        k: user[k]
                        for k in (
                            "upn",
                            "mail",
                            "given_name",
                            "surname",
                            "display_name",
                            "account_enabled",
                            "mfa_registered",
                            "country",
                            "created_at",
                        )
                    },
                    "guest": user["user_type"] == "Guest",
                    "last_activity": last_day,
                    "last_used_app": "Exchange" if last_day else None,
                    "activity_as_of": date(2026, 11, 17),
                    "mail_mb": rng.random() * 5000,
                    "onedrive_mb": rng.random() * 9000,
                    "licenses": 1,
                    "activations": 1,
                }
            )
            for sid in rng.sample(list(SKUS), rng.choice((1, 1, 2))):
                assignments.append(
                    {
                        "tenant_pk": pk,
                        "user_id": uid,
                        "sku_id": sid,
                        "via": "",
                        "disabled_plans": [],
                        "state": "Active",
                    }
                )
        writes.upsert_rows(session, User, users, key=("tenant_pk", "id"))
        writes.upsert_rows(session, UserSummary, summaries, key=("tenant_pk", "user_id"))
        writes.upsert_rows(
            session, LicenseAssignment, assignments, key=("tenant_pk", "user_id", "sku_id", "via")
        )
    engine.dispose()
    return pk


def _page(url: str, pk: int, query: inputs.UserQuery, offset: int) -> float:
    engine = _page.engines.setdefault(url, make_engine(url))  # type: ignore[attr-defined]
    start = time.perf_counter()
    with session_scope(engine) as session:
        names = inputs.sku_names(session, pk)
        ids = inputs.query_ids(session, pk, query, limit=100, offset=offset)
        rows = [build(f, names) for f in inputs.user_facts(session, pk, ids)]
    assert len(rows) <= 100
    return (time.perf_counter() - start) * 1000


_page.engines = {}  # type: ignore[attr-defined]


def main() -> None:
    """Fill a store per size, then time pages of each query at a few offsets."""
    lines = ["| users | query | p50 ms | p95 ms |", "|---|---|---|---|"]
    verdicts = []
    loads = []  # the machine's 1-minute load when each size's timings start: they are noisy
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            url = f"sqlite:///{Path(tmp) / f'view{n}.db'}"
            t0 = time.perf_counter()
            pk = _fill(url, n)
            print(f"filled {n:,} users in {time.perf_counter() - t0:.1f} s", flush=True)
            all_times = []
            loads.append((n, os.getloadavg()[0]))
            for label, query in QUERIES.items():
                times = [_page(url, pk, query, offset) for offset in (0, 100, 1000, 5000) * 5]
                times.sort()
                p50, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
                all_times += times
                lines.append(f"| {n:,} | {label} | {p50:.1f} | {p95:.1f} |")
            all_times.sort()
            p95_all = all_times[int(len(all_times) * 0.95) - 1]
            verdicts.append((n, p95_all))
            for engine in _page.engines.values():  # type: ignore[attr-defined]
                engine.dispose()
            _page.engines.clear()  # type: ignore[attr-defined]
    summary = "\n".join(
        f"- {n:,} users: p95 over all queries {p:.1f} ms"
        + (f" (target ≤ 50 ms: {'met' if p <= 50 else 'MISSED'})" if n == 100_000 else "")
        for n, p in verdicts
    )
    summary += "\n\nLoad average (1 min) when the timings started: " + ", ".join(
        f"{load:.1f} at {n:,} users" for n, load in loads
    )
    summary += f" ({os.cpu_count()} CPUs; others' processes share them)."
    record(
        "users_view",
        "Users view page (100 rows, filter + sort), SQLite",
        "Each query timed at offsets 0, 100, 1,000 and 5,000, five times; a page is the id query "
        "plus loading and building the 100 records.\n\n" + "\n".join(lines) + "\n\n" + summary,
    )
