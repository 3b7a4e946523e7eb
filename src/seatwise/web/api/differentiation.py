"""The `license_differentiation` entity set: per licence and included service, how many users
hold it and how many of them used the service (`seatwise activity --differentiation`). Licences
of unmanaged SKUs are left out unless `include_unmanaged=true`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from seatwise.analytics import activity as view
from seatwise.analytics.inputs import activity as inputs
from seatwise.web.api.common import fail, register, resolve_tenant
from seatwise.web.api.edm import DATE, EntitySet
from seatwise.web.state import web_state

routes = APIRouter(prefix="/api/v1", tags=["activity"])


class LicenseDifferentiationRecord(BaseModel):
    """One licence and one service it includes."""

    model_config = ConfigDict(extra="forbid")

    sku_id: str
    sku_part_number: str
    name: str
    service: str
    holders: int = Field(description="Users holding the licence.")
    active_users: int = Field(description="Holders active in the service.")
    as_of: Annotated[str | None, DATE]


LICENSE_DIFFERENTIATION = EntitySet(
    "license_differentiation",
    LicenseDifferentiationRecord,
    ("sku_id", "service"),
    view.DIFFERENTIATION_KEYS,
    "License Differentiation",
)


def include_unmanaged(request: Request) -> bool:
    """The request's `include_unmanaged` parameter (false when absent); 400 when not a boolean."""
    text = request.query_params.get("include_unmanaged", "").strip().lower()
    if text in ("", "false", "0", "no"):
        return False
    if text in ("true", "1", "yes"):
        return True
    fail(400, "include_unmanaged must be true or false.")


def _load(request: Request, tenant: str | None) -> list[dict[str, Any]]:
    unmanaged = include_unmanaged(request)
    with web_state(request).session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        stored = inputs.differentiation_rows(session, tenant_pk, unmanaged)
        return view.differentiation(stored, inputs.sku_names(session, tenant_pk))


register(
    routes,
    LICENSE_DIFFERENTIATION,
    _load,
    summary="License Differentiation",
    description=(
        "Per licence and included service: holders and active users, by licence name then the "
        "services' order (the records of `seatwise activity --differentiation`). Licences of "
        "unmanaged SKUs are left out unless `include_unmanaged=true`."
    ),
)
