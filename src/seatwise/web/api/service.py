"""The OData service: its one router, holding every entity set's routes (each module's
`routes`, the most asked-for first: routes are tried in order, and a long table costs every
request), and its own documents: the service document at `/api/v1/` (every entity set by name
and URL) and the CSDL `$metadata`, both made from the entity sets' declarations."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import Response

from seatwise.web.api import (
    activity,
    audit,
    differentiation,
    itam,
    licenses,
    plans,
    recommendations,
    tasks,
    tenants,
    users,
)
from seatwise.web.api.activity import ACTIVITY
from seatwise.web.api.audit import AUDIT
from seatwise.web.api.common import ERRORS
from seatwise.web.api.differentiation import LICENSE_DIFFERENTIATION
from seatwise.web.api.edm import EntitySet, csdl, service_document
from seatwise.web.api.itam import ITAM, ITAM_CONSUMPTION
from seatwise.web.api.licenses import LICENSES
from seatwise.web.api.odata import HEADERS, odata_json, service_root
from seatwise.web.api.plans import PLAN_ITEMS, PLANS
from seatwise.web.api.recommendations import RECOMMENDATIONS
from seatwise.web.api.tasks import TASK_RUNS
from seatwise.web.api.tenants import TENANTS
from seatwise.web.api.users import USERS
from seatwise.web.security import ApiPrincipal

__all__ = ["ENTITY_SETS", "router"]

router = APIRouter()
for part in (
    users,
    activity,
    licenses,
    recommendations,
    tenants,
    tasks,
    plans,
    audit,
    differentiation,
    itam,
):
    router.include_router(part.routes)
documents = APIRouter(prefix="/api/v1", tags=["service"])

ENTITY_SETS: tuple[EntitySet, ...] = (
    TENANTS,
    USERS,
    LICENSES,
    ACTIVITY,
    RECOMMENDATIONS,
    PLANS,
    PLAN_ITEMS,
    TASK_RUNS,
    AUDIT,
    LICENSE_DIFFERENTIATION,
    ITAM,
    ITAM_CONSUMPTION,
)


@cache
def _metadata() -> bytes:
    return csdl(ENTITY_SETS).encode()


@documents.get("/", summary="Service document", responses=ERRORS)
def service(request: Request, _principal: ApiPrincipal) -> Response:
    """Every entity set of the OData service, by name and URL (relative to `/api/v1/`)."""
    return odata_json(service_document(service_root(request), ENTITY_SETS))


@documents.get(
    "/$metadata",
    summary="Metadata document (CSDL)",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"application/xml": {"schema": {"type": "string"}}}}},
)
def metadata(_principal: ApiPrincipal) -> Response:
    """The entity data model: every entity type with its key and Edm-typed properties, the
    complex and enumeration types, and the entity container with every entity set."""
    return Response(_metadata(), media_type="application/xml", headers=dict(HEADERS))


router.include_router(documents)
