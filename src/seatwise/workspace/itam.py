"""The hybrid ITAM position as every front end serves it (`seatwise export itam`, the API's
`itam` and `itam_consumption` entity sets, the UI's `/export/itam.csv`): the stored SKUs,
contract terms, tenants and licence assignments read here, the records built by
`seatwise.analytics.itam`. Every tenant by name, or the one asked for.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from seatwise.analytics import itam
from seatwise.analytics import licenses as view
from seatwise.analytics.inputs import licenses as inputs
from seatwise.errors import UsageError
from seatwise.store.schema import LicenseAssignment, Tenant, User

__all__ = ["consumption", "position"]


def _tenants(session: Session, name: str | None) -> list[Tenant]:
    if name is None:
        return list(session.scalars(select(Tenant).order_by(Tenant.name)))
    found = session.scalar(select(Tenant).where(Tenant.name == name))
    if found is None:
        raise UsageError(f"There is no tenant called {name!r}.")
    return [found]


def _facts(tenant: Tenant) -> itam.TenantFacts:
    return itam.TenantFacts(tenant.name, tenant.tenant_id, tenant.active, tenant.superseded_by)


def _position(session: Session, tenant: Tenant, as_of: date) -> list[dict[str, Any]]:
    positions = view.build(
        inputs.sku_rows(session, tenant.pk),
        inputs.contract_rows(session, tenant.pk),
        include_all=True,
    )
    return itam.position_records(_facts(tenant), positions, as_of)


def position(session: Session, as_of: date, tenant: str | None = None) -> list[dict[str, Any]]:
    """The ITAM records (`itam.ITAM_KEYS`) of every tenant, or of the one called `tenant`
    (`UsageError` when there is none): managed SKUs only, by tenant name then part number."""
    rows: list[dict[str, Any]] = []
    for row in _tenants(session, tenant):
        rows.extend(_position(session, row, as_of))
    return rows


def consumption(session: Session, as_of: date, tenant: str | None = None) -> list[dict[str, Any]]:
    """The named-user consumption records (`itam.CONSUMPTION_KEYS`) of every tenant, or of the
    one called `tenant`: who holds which managed SKU, by tenant, part number and UPN."""
    rows: list[dict[str, Any]] = []
    for row in _tenants(session, tenant):
        records = _position(session, row, as_of)
        if not records:
            continue
        users = {
            user_id: {"upn": upn, "display_name": name, "account_enabled": enabled}
            for user_id, upn, name, enabled in session.execute(
                select(User.id, User.upn, User.display_name, User.account_enabled).where(
                    User.tenant_pk == row.pk
                )
            )
        }
        held = [
            {"user_id": user_id, "sku_id": sku_id, "via": via}
            for user_id, sku_id, via in session.execute(
                select(
                    LicenseAssignment.user_id, LicenseAssignment.sku_id, LicenseAssignment.via
                ).where(LicenseAssignment.tenant_pk == row.pk)
            )
        ]
        rows.extend(itam.consumption_records(records, users, held))
    return rows
