"""`GET /api/v1/tenants`: the connected tenants."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from seatwise.web.api.odata import PageParams, collection, page_params
from seatwise.web.security import ApiPrincipal
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants

router = APIRouter(prefix="/api/v1", tags=["tenants"])


@router.get("/tenants", summary="Connected tenants")
def tenants(
    request: Request,
    _principal: ApiPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> dict[str, Any]:
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
    window = items[params.skip : params.skip + params.top]
    return collection(request, window, params, more=params.skip + params.top < len(items))
