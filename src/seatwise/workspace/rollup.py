"""The roll-up across tenants, for MSPs: per tenant its users and licensed users, its paid
licences purchased, assigned and unused, what a year of them costs and how much of it is unused,
the potential savings of its recommendations per currency, and its last sync's status and age.
One definition for the web's roll-up Overview, `GET /api/v1/tenants` and `seatwise tenant list`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from seatwise.analytics import licenses as positions
from seatwise.analytics.inputs import licenses as licence_inputs
from seatwise.analytics.recommendations import Recommendation
from seatwise.store.schema import LicenseAssignment, TaskRun, Tenant
from seatwise.store.schema import User as UserRow

__all__ = ["KEYS", "rollup", "savings_per_currency", "status_of", "user_counts"]

KEYS = (
    "name",
    "tenant_id",
    "auth_mode",
    "status",
    "users",
    "licensed_users",
    "paid_purchased",
    "paid_assigned",
    "paid_unused",
    "annual_cost",
    "unused_annual_cost",
    "potential_savings",
    "last_sync_status",
    "last_sync_at",
    "last_sync_age_hours",
)

Findings = Callable[[Session, Tenant], Iterable[Recommendation]]


def status_of(tenant: Tenant) -> str:
    """active, inactive (deactivated) or superseded (retired by a newer registration)."""
    if tenant.superseded_by is not None:
        return "superseded"
    return "active" if tenant.active else "inactive"


def user_counts(session: Session, tenant_pk: int) -> tuple[int, int]:
    """Live (not deleted) users, and those of them holding at least one licence."""
    live = (UserRow.tenant_pk == tenant_pk) & UserRow.deleted_at.is_(None)
    users = session.scalar(select(func.count()).select_from(UserRow).where(live)) or 0
    licensed = session.scalar(
        select(func.count(func.distinct(LicenseAssignment.user_id)))
        .select_from(LicenseAssignment)
        .join(
            UserRow,
            (UserRow.tenant_pk == LicenseAssignment.tenant_pk)
            & (UserRow.id == LicenseAssignment.user_id),
        )
        .where(LicenseAssignment.tenant_pk == tenant_pk, live)
    )
    return int(users), int(licensed or 0)


def savings_per_currency(found: Iterable[Recommendation]) -> dict[str, Decimal]:
    """The recommendations' annual savings per currency, never added across currencies."""
    sums: dict[str, Decimal] = {}
    for item in found:
        if item.annual_savings is not None and item.currency is not None:
            sums[item.currency] = sums.get(item.currency, Decimal(0)) + item.annual_savings
    return dict(sorted(sums.items()))


def _money(values: dict[str, Decimal]) -> dict[str, str]:
    return {cur: str(positions.money(amount)) for cur, amount in values.items()}


def _last_sync(session: Session, tenant_pk: int) -> TaskRun | None:
    return session.scalar(
        select(TaskRun)
        .where(TaskRun.tenant_pk == tenant_pk)
        .order_by(TaskRun.started_at.desc(), TaskRun.pk.desc())
        .limit(1)
    )


def rollup(
    session: Session,
    now: datetime,
    findings: Findings,
    *,
    tenants: Iterable[Tenant] | None = None,
) -> list[dict[str, Any]]:
    """One record with `KEYS` per tenant (every tenant by name unless `tenants`), JSON-ready:
    money as strings per currency code. Paid licences are those of managed, still subscribed
    SKUs of licence type paid. `findings(session, tenant)` gives a tenant's recommendations;
    retired registrations (inactive, superseded) get no findings and no costs."""
    rows = (
        list(tenants)
        if tenants is not None
        else list(session.scalars(select(Tenant).order_by(Tenant.name)))
    )
    records = []
    for tenant in rows:
        status = status_of(tenant)
        users, licensed = user_counts(session, tenant.pk)
        counted = [
            p
            for p in positions.build(
                licence_inputs.sku_rows(session, tenant.pk),
                licence_inputs.contract_rows(session, tenant.pk),
            )
            if p.license_type == "paid"
        ]
        current = status == "active"
        totals = positions.totals(counted) if current else []
        last = _last_sync(session, tenant.pk)
        ended = last.finished_at if last is not None else None
        records.append(
            {
                "name": tenant.name,
                "tenant_id": tenant.tenant_id,
                "auth_mode": tenant.auth_mode,
                "status": status,
                "users": users,
                "licensed_users": licensed,
                "paid_purchased": sum(p.purchased for p in counted),
                "paid_assigned": sum(p.assigned for p in counted),
                "paid_unused": sum(max(p.available, 0) for p in counted),
                "annual_cost": {t.currency: positions.money(t.annual_cost) for t in totals},
                "unused_annual_cost": {
                    t.currency: positions.money(t.unused_annual_cost) for t in totals
                },
                "potential_savings": _money(
                    savings_per_currency(findings(session, tenant)) if current else {}
                ),
                "last_sync_status": last.status if last is not None else None,
                "last_sync_at": ended.isoformat() if ended is not None else None,
                "last_sync_age_hours": (
                    round((now - ended).total_seconds() / 3600, 1) if ended is not None else None
                ),
            }
        )
    return records
