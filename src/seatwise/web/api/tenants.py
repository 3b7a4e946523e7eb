"""`GET /api/v1/tenants`: the connected tenants."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from seatwise.web.api.common import ERRORS, JSONAnswer, page_answer
from seatwise.web.api.odata import Page, PageParams, page_params
from seatwise.web.security import ApiPrincipal
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants

router = APIRouter(prefix="/api/v1", tags=["tenants"])


class TenantRecord(BaseModel):
    """A connected tenant."""

    model_config = ConfigDict(extra="forbid")

    name: str
    tenant_id: str
    client_id: str
    auth_mode: str
    active: bool
    premium: bool | None
    concealed_names: bool | None
    created_at: str


class TenantPage(Page[TenantRecord]):
    """A page of tenants."""


@router.get(
    "/tenants",
    summary="Connected tenants",
    response_model=TenantPage,
    response_class=JSONAnswer,
    responses=ERRORS,
)
def tenants(
    request: Request,
    _principal: ApiPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Response:
    """Every tenant: name, ids, how it is connected, whether it is active."""
    with web_state(request).session() as session:
        rows = all_tenants(session)
        items = [
            {
                "name": t.name,
                "tenant_id": t.tenant_id,
                "client_id": t.client_id,
                "auth_mode": t.auth_mode,
                "active": t.active,
                "premium": t.premium,
                "concealed_names": t.concealed_names,
                "created_at": t.created_at.isoformat(),
            }
            for t in rows
        ]
    return page_answer(request, items, params)
