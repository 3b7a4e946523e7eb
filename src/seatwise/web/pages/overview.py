"""Overview: per tenant, users and licensed users, seats per SKU, annual and unused cost and the
recommendations' savings per currency, data freshness (report refresh dates, last task runs)
and trends over the stored daily snapshots and licence history. Reads through analytics;
renders with web.charts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from seatwise.analytics import licenses as positions
from seatwise.analytics.inputs import licenses as licence_inputs
from seatwise.analytics.recommendations import Policy, Recommendation
from seatwise.store.schema import (
    ReportRefresh,
    SkuSnapshot,
    TaskRun,
    Tenant,
    UsageSnapshot,
)
from seatwise.sync import TASK_TITLES
from seatwise.web import charts
from seatwise.web.render import page
from seatwise.web.security import User
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants, pick_tenant
from seatwise.workspace.rollup import user_counts

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Savings:
    """What the recommendations would save a year in one currency."""

    currency: str
    annual_savings: Decimal
    recommendations: int


def savings(recommended: Iterable[Recommendation]) -> dict[str, Any]:
    """The recommendations (as `seatwise recommendations` makes them): how many per action, and
    the annual savings per currency (never added across currencies)."""
    per_action: dict[str, int] = defaultdict(int)
    sums: dict[str, tuple[Decimal, int]] = {}
    total = 0
    for found in recommended:
        total += 1
        per_action[found.action] += 1
        if found.annual_savings is not None and found.currency is not None:
            amount, count = sums.get(found.currency, (Decimal(0), 0))
            sums[found.currency] = (amount + found.annual_savings, count + 1)
    return {
        "count": total,
        "per_action": dict(sorted(per_action.items())),
        "per_currency": [Savings(cur, *sums[cur]) for cur in sorted(sums)],
    }


def freshness(session: Session, tenant_pk: int) -> dict[str, Any]:
    """Each usage report's refresh date, and the last run of each integration task."""
    reports = session.execute(
        select(
            ReportRefresh.report,
            ReportRefresh.refresh_date,
            ReportRefresh.fetched_at,
            ReportRefresh.rows,
        )
        .where(ReportRefresh.tenant_pk == tenant_pk)
        .order_by(ReportRefresh.report)
    ).all()
    latest = (
        select(TaskRun.task, func.max(TaskRun.started_at).label("started"))
        .where(TaskRun.tenant_pk == tenant_pk)
        .group_by(TaskRun.task)
        .subquery()
    )
    runs = {
        run.task: run
        for run in session.scalars(
            select(TaskRun)
            .join(
                latest,
                (TaskRun.task == latest.c.task) & (TaskRun.started_at == latest.c.started),
            )
            .where(TaskRun.tenant_pk == tenant_pk)
        )
    }
    tasks = [(title, runs.get(task)) for task, title in TASK_TITLES.items()]
    return {"reports": reports, "tasks": tasks}


def active_trend(session: Session, tenant_pk: int) -> list[tuple[str, float]]:
    """Per day of the stored snapshots (one per roster sync, dated by the report), the users who
    used Microsoft 365 apps on any platform (Windows, Mac, mobile, web) in the report period."""
    used = or_(
        UsageSnapshot.windows.is_(True),
        UsageSnapshot.mac.is_(True),
        UsageSnapshot.mobile.is_(True),
        UsageSnapshot.web.is_(True),
    )
    rows = session.execute(
        select(UsageSnapshot.day, func.sum(case((used, 1), else_=0)))
        .where(UsageSnapshot.tenant_pk == tenant_pk)
        .group_by(UsageSnapshot.day)
        .order_by(UsageSnapshot.day)
    )
    return [(day.isoformat(), float(count or 0)) for day, count in rows]


def storage_trend(session: Session, tenant_pk: int) -> list[tuple[str, float]]:
    """Per snapshot day, the mailbox and OneDrive storage used in all, in GB."""
    rows = session.execute(
        select(
            UsageSnapshot.day,
            func.sum(
                func.coalesce(UsageSnapshot.mail_mb, 0)
                + func.coalesce(UsageSnapshot.onedrive_mb, 0)
            ),
        )
        .where(UsageSnapshot.tenant_pk == tenant_pk)
        .group_by(UsageSnapshot.day)
        .order_by(UsageSnapshot.day)
    )
    return [(day.isoformat(), round(float(mb or 0) / 1024, 1)) for day, mb in rows]


@dataclass(frozen=True)
class LicenceDay:
    """The licences of one day of history, summed over the SKUs counted."""

    day: date
    assigned: int
    purchased: int


def licence_trend(
    session: Session, tenant_pk: int, leave_out: Collection[str] = ()
) -> list[LicenceDay]:
    """Per day of licence history (one row per SKU the License Information task saw subscribed
    that UTC day), the units assigned and purchased in all, but for the SKUs in `leave_out`."""
    query = (
        select(SkuSnapshot.day, func.sum(SkuSnapshot.assigned), func.sum(SkuSnapshot.purchased))
        .where(SkuSnapshot.tenant_pk == tenant_pk)
        .group_by(SkuSnapshot.day)
        .order_by(SkuSnapshot.day)
    )
    if leave_out:
        query = query.where(SkuSnapshot.sku_id.not_in(leave_out))
    return [
        LicenceDay(day, int(assigned or 0), int(purchased or 0))
        for day, assigned, purchased in session.execute(query)
    ]


def licence_chart(days: list[LicenceDay]) -> Markup:
    """The line chart of licences assigned and purchased per day; on the first day the two
    figures, with a note that the trend starts with the next day's sync."""
    return charts.lines_chart(
        [d.day.isoformat() for d in days],
        [
            ("Assigned", [float(d.assigned) for d in days]),
            ("Purchased", [float(d.purchased) for d in days]),
        ],
        title="Licences assigned and purchased per day",
        empty="No licence history yet: run a sync.",
    )


def _summary(session: Session, tenant: Tenant, recommended: list[Recommendation]) -> dict[str, Any]:
    contracts = licence_inputs.contract_rows(session, tenant.pk)
    found = positions.build(licence_inputs.sku_rows(session, tenant.pk), contracts)
    users, licensed = user_counts(session, tenant.pk)
    paid = [p for p in found if p.license_type != "free"]  # free SKUs come in 10,000s
    # The trend counts what the totals count: neither free SKUs nor unmanaged ones.
    unmanaged = {str(c["sku_id"]) for c in contracts if not c.get("managed", True)}
    history = licence_trend(
        session, tenant.pk, {p.sku_id for p in found if p.license_type == "free"} | unmanaged
    )
    seats = charts.stacked_bar_chart(
        [p.name for p in paid],
        [
            ("Assigned", [float(p.assigned) for p in paid]),
            ("Unused", [float(max(p.available, 0)) for p in paid]),
        ],
        title="Purchased licences per SKU: assigned and unused",
        empty="No licences yet: run a sync.",
    )
    return {
        "users": users,
        "licensed": licensed,
        "positions": found,
        "seats_chart": seats,
        "totals": positions.totals(found),
        "savings": savings(recommended),
        "freshness": freshness(session, tenant.pk),
        "active_chart": charts.line_chart(
            active_trend(session, tenant.pk),
            title="Users of Microsoft 365 apps per report day",
            unit="users",
        ),
        "storage_chart": charts.line_chart(
            storage_trend(session, tenant.pk),
            title="Mailbox and OneDrive storage (GB) per day",
            unit="GB",
        ),
        "licence_chart": licence_chart(history),
        "licence_latest": history[-1] if history else None,
        "money": positions.money,
    }


@router.get("/")
def overview(request: Request, user: User) -> Response:
    """The overview page: the roll-up across tenants when there are several, then the chosen
    tenant's summary."""
    state = web_state(request)
    with state.session() as session:
        tenants = all_tenants(session)
        tenant = pick_tenant(request, session)
        context: dict[str, Any] = {"rollup": []}
        if tenant is not None:
            policy = Policy.from_mapping(state.settings.recommendations.model_dump())
            found = state.findings.of(session, tenant.pk, policy, datetime.now(UTC).date())
            context = _summary(session, tenant, found)
            if len(tenants) > 1:
                context["rollup"] = state.findings.rollup(session, tenants, policy)
        return page(
            request,
            "overview.html",
            context,
            user=user,
            tenant=tenant,
            tenants=tenants,
            title="Overview",
        )
