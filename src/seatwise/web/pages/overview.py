"""Overview: per tenant, users and licences at a glance (filled in by the overview page work)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from seatwise.web.render import page
from seatwise.web.security import User
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants, pick_tenant

router = APIRouter(include_in_schema=False)


@router.get("/")
def overview(request: Request, user: User) -> Response:
    """The overview page."""
    with web_state(request).session() as session:
        tenants = all_tenants(session)
        tenant = pick_tenant(request, session)
        return page(
            request,
            "overview.html",
            {},
            user=user,
            tenant=tenant,
            tenants=tenants,
            title="Overview",
        )
