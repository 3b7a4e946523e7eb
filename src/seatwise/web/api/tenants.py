"""The `tenants` entity set: the connected tenants, each with the roll-up an MSP watches (users,
paid licences, costs and potential savings per currency, the last sync)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from seatwise.analytics.recommendations import Policy
from seatwise.web.api.common import register
from seatwise.web.api.edm import DATETIME, EntitySet
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants

routes = APIRouter(prefix="/api/v1", tags=["tenants"])


class TenantRecord(BaseModel):
    """A connected tenant; amounts per currency code, as decimal strings."""

    model_config = ConfigDict(extra="forbid")

    name: str
    tenant_id: str
    client_id: str
    auth_mode: str
    active: bool
    premium: bool | None
    concealed_names: bool | None
    created_at: Annotated[str, DATETIME]
    status: str
    superseded_by: str | None
    users: int
    licensed_users: int
    paid_purchased: int
    paid_assigned: int
    paid_unused: int
    annual_cost: dict[str, str | None]
    unused_annual_cost: dict[str, str | None]
    potential_savings: dict[str, str]
    last_sync_status: str | None
    last_sync_at: Annotated[str | None, DATETIME]
    last_sync_age_hours: float | None


TENANTS = EntitySet("tenants", TenantRecord, ("name",), title="Connected tenants")


def _load(request: Request, _tenant: str | None) -> Iterable[dict[str, Any]]:
    state = web_state(request)
    with state.session() as session:
        rows = all_tenants(session)
        policy = Policy.from_mapping(state.settings.recommendations.model_dump())
        rolled = {r["name"]: r for r in state.findings.rollup(session, rows, policy)}
        return [
            {
                **rolled[t.name],
                "name": t.name,
                "tenant_id": t.tenant_id,
                "client_id": t.client_id,
                "auth_mode": t.auth_mode,
                "active": t.active,
                "premium": t.premium,
                "concealed_names": t.concealed_names,
                "created_at": t.created_at.isoformat(),
                "superseded_by": t.superseded_by,
            }
            for t in rows
        ]


register(
    routes,
    TENANTS,
    _load,
    summary="Connected tenants",
    description=(
        "Every tenant: name, ids, how it is connected, its status (active, inactive or "
        "superseded), users and licensed users, paid licences purchased, assigned and unused, "
        "annual and unused annual cost and the recommendations' potential savings (per "
        "currency code, as decimal strings), and its last sync's status, end and age in hours. "
        "(`tenant` is ignored here.)"
    ),
)
