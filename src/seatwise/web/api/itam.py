"""The ITAM position as the `itam` entity set: every tenant's licences as a hybrid IT asset
management position, one record per tenant and SKU, built on `seatwise.analytics.licenses` (the
UI's `/export/itam.csv` and `.json` and `seatwise export itam` give the same records).

A SKU is `retired` when it left the tenant's subscriptions or the tenant integration is
deactivated, else `active`; retired SKUs keep their counts and contract terms but have no annual
cost (they take part in no calculation, as in `seatwise licenses`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from seatwise.analytics import licenses as view
from seatwise.analytics.inputs import licenses as inputs
from seatwise.store.schema import Tenant
from seatwise.web.api.common import register
from seatwise.web.api.edm import DATE, DECIMAL, Edm, EntitySet
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants

__all__ = ["ITAM", "ITAM_KEYS", "itam_records", "itam_rows", "routes"]

routes = APIRouter(prefix="/api/v1", tags=["itam"])

PUBLISHER = "Microsoft"
ITAM_KEYS = (
    "tenant",
    "tenant_id",
    "publisher",
    "product_name",
    "sku_part_number",
    "sku_id",
    "license_type",
    "purchased",
    "consumed",
    "available",
    "cost",
    "currency",
    "payment_frequency",
    "annual_cost",
    "effective_date",
    "expiration_date",
    "managed",
    "status",
)
# A spreadsheet would run a text cell starting with one of these as a formula.


def itam_records(tenant: Tenant, positions: Iterable[view.LicensePosition]) -> list[dict[str, Any]]:
    """The ITAM records (exactly `ITAM_KEYS`, JSON-ready) of one tenant's licence positions."""
    records = []
    for item in positions:
        retired = item.retired or not tenant.active
        base = item.record()
        records.append(
            {
                "tenant": tenant.name,
                "tenant_id": tenant.tenant_id,
                "publisher": PUBLISHER,
                "product_name": item.name,
                "sku_part_number": item.sku_part_number,
                "sku_id": item.sku_id,
                "license_type": item.license_type,
                "purchased": item.purchased,
                "consumed": item.assigned,
                "available": item.available,
                "cost": base["cost"],
                "currency": item.currency,
                "payment_frequency": item.payment_frequency,
                "annual_cost": None if retired else base["annual_cost"],
                "effective_date": base["effective_date"],
                "expiration_date": base["expiration_date"],
                "managed": item.managed,
                "status": "retired" if retired else "active",
            }
        )
    return records


def itam_rows(session: Session) -> list[dict[str, Any]]:
    """Every SKU of every tenant (unmanaged and retired ones included), by tenant name."""
    rows: list[dict[str, Any]] = []
    for tenant in all_tenants(session):
        positions = view.build(
            inputs.sku_rows(session, tenant.pk),
            inputs.contract_rows(session, tenant.pk),
            include_all=True,
        )
        rows.extend(itam_records(tenant, positions))
    return rows


class ItamRecord(BaseModel):
    """One SKU of one tenant in the ITAM position."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    tenant_id: str
    publisher: str
    product_name: str
    sku_part_number: str
    sku_id: str
    license_type: str
    purchased: int
    consumed: int
    available: int
    cost: Annotated[str | None, DECIMAL]
    currency: str | None
    payment_frequency: str | None
    annual_cost: Annotated[str | None, DECIMAL]
    effective_date: Annotated[str | None, DATE]
    expiration_date: Annotated[str | None, DATE]
    managed: bool
    status: Annotated[Literal["active", "retired"], Edm(enum="ItamStatus")]


ITAM = EntitySet("itam", ItamRecord, ("tenant", "sku_id"), ITAM_KEYS, "ITAM position")


def _load(request: Request, _tenant: str | None) -> list[dict[str, Any]]:
    with web_state(request).session() as session:
        return itam_rows(session)


register(
    routes,
    ITAM,
    _load,
    summary="ITAM position",
    description=(
        "Every SKU of every tenant (unmanaged and retired ones included), by tenant name: the "
        "records of `seatwise export itam --format json`. (`tenant` is ignored here.)"
    ),
)
