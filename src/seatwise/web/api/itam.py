"""The hybrid ITAM position as two entity sets: `itam`, one record per tenant and managed SKU
(entitlement against consumption, contract terms, unit and annual cost, status), and
`itam_consumption`, one record per tenant, managed SKU and user holding it. Both are built by
`seatwise.workspace.itam`; `seatwise export itam [--consumption]` and the UI's
`/export/itam.csv` and `/export/itam-consumption.csv` give the same records.

Unmanaged SKUs are left out. A SKU is `retired` when it left the tenant's subscriptions or the
tenant integration is deactivated or superseded, `expired` when its contract's expiration date
has passed, else `active`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from seatwise.analytics.itam import CONSUMPTION_KEYS, ITAM_KEYS
from seatwise.web.api.common import register
from seatwise.web.api.edm import DATE, DECIMAL, Edm, EntitySet
from seatwise.web.state import web_state
from seatwise.workspace import itam

__all__ = ["ITAM", "ITAM_CONSUMPTION", "ITAM_KEYS", "CONSUMPTION_KEYS", "routes"]

routes = APIRouter(prefix="/api/v1", tags=["itam"])

Status = Annotated[Literal["active", "expired", "retired"], Edm(enum="ItamStatus")]


class ItamRecord(BaseModel):
    """One managed SKU of one tenant in the ITAM position."""

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
    status: Status


class ItamConsumptionRecord(BaseModel):
    """One user holding one managed SKU of one tenant (named-user consumption)."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    tenant_id: str
    publisher: str
    product_name: str
    sku_part_number: str
    sku_id: str
    user_id: str
    upn: str | None
    display_name: str | None
    account_enabled: bool | None
    assigned_directly: bool
    assigned_by_groups: list[str]
    status: Status


ITAM = EntitySet("itam", ItamRecord, ("tenant", "sku_id"), ITAM_KEYS, "ITAM position")
ITAM_CONSUMPTION = EntitySet(
    "itam_consumption",
    ItamConsumptionRecord,
    ("tenant", "sku_id", "user_id"),
    CONSUMPTION_KEYS,
    "ITAM named-user consumption",
)


def _position(request: Request, tenant: str | None) -> list[dict[str, Any]]:
    with web_state(request).session() as session:
        return itam.position(session, date.today(), tenant)


def _consumption(request: Request, tenant: str | None) -> list[dict[str, Any]]:
    with web_state(request).session() as session:
        return itam.consumption(session, date.today(), tenant)


register(
    routes,
    ITAM,
    _position,
    summary="ITAM position",
    description=(
        "Every managed SKU of every tenant (or of `tenant`), by tenant name: entitlement "
        "(`purchased`) against consumption (`consumed`), contract terms, unit and annual cost "
        "and status (`active`, `expired`, `retired`); the records of "
        "`seatwise export itam --format json`. Unmanaged SKUs are left out."
    ),
)
register(
    routes,
    ITAM_CONSUMPTION,
    _consumption,
    summary="ITAM named-user consumption",
    description=(
        "Which user holds which managed SKU, for every tenant (or `tenant`): the records of "
        "`seatwise export itam --consumption --format json`."
    ),
)
