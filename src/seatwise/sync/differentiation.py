"""License Differentiation: for each licence type, how many holders have each included service
and how many of them actually used it recently; then the per-user summary the Users view sorts
on. Derived from what the other tasks stored.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from seatwise import services
from seatwise.store import writes
from seatwise.store.schema import LicenseAssignment, LicenseUsage, ServiceActivity, SkuPlan, User
from seatwise.sync import summary
from seatwise.sync.context import TaskContext


def run(ctx: TaskContext) -> None:
    """Run the License Differentiation task inside the caller's transaction."""
    pk = ctx.tenant.pk
    plans: dict[str, dict[str, str]] = defaultdict(dict)  # sku -> plan id -> plan name
    for sku_id, plan_id, plan_name in ctx.session.execute(
        select(SkuPlan.sku_id, SkuPlan.plan_id, SkuPlan.plan_name).where(SkuPlan.tenant_pk == pk)
    ):
        plans[sku_id][plan_id] = plan_name
    live = set(
        ctx.session.scalars(select(User.id).where(User.tenant_pk == pk, User.deleted_at.is_(None)))
    )
    last: dict[tuple[str, str], date | None] = {}
    as_of: date | None = None
    connection = ctx.session.connection()  # Core rows: no ORM loading for ~700k rows
    for user_id, service, last_activity, row_as_of in connection.execute(
        select(
            ServiceActivity.user_id,
            ServiceActivity.service,
            ServiceActivity.last_activity,
            ServiceActivity.as_of,
        ).where(ServiceActivity.tenant_pk == pk, ServiceActivity.available.is_(True))
    ):
        last[(user_id, service)] = last_activity
        if service in services.REPORT_SERVICES and (as_of is None or row_as_of > as_of):
            as_of = row_as_of
    reference = as_of or ctx.today
    window_start = reference - timedelta(days=ctx.options.active_window_days)
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for user_id, sku_id, disabled in connection.execute(
        select(
            LicenseAssignment.user_id, LicenseAssignment.sku_id, LicenseAssignment.disabled_plans
        ).where(LicenseAssignment.tenant_pk == pk)
    ):
        if user_id not in live:
            continue
        enabled = {
            name for pid, name in plans.get(sku_id, {}).items() if pid not in set(disabled or [])
        }
        for service in services.services_of_plans(enabled):
            holders[(sku_id, service)].add(user_id)
    rows: list[dict[str, Any]] = []
    for (sku_id, service), users in sorted(holders.items()):
        active = sum(
            1 for u in users if (d := last.get((u, service))) is not None and d >= window_start
        )
        rows.append(
            {
                "tenant_pk": pk,
                "sku_id": sku_id,
                "service": service,
                "holders": len(users),
                "active_users": active,
                "as_of": reference,
            }
        )
    changes = writes.replace_rows(ctx.session, LicenseUsage, pk, rows)
    ctx.counts.update({"licence/service pairs": len(rows), "rows written": changes.total})
    ctx.progress(ctx.task, "licence differentiation", len(rows), len(rows))
    del last, holders, rows  # free them before the summary's own pass
    summary.run(ctx)
