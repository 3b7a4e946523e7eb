"""`GET /api/v1/audit`: the audit log of every change made to a tenant (`seatwise audit
--format json`), newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from seatwise.reclaim.audit import KEYS, events
from seatwise.web.api.common import (
    CSV_RESPONSE,
    ERRORS,
    Format,
    FormatParam,
    JSONAnswer,
    TenantParam,
    filter_values,
    records_answer,
    resolve_tenant,
)
from seatwise.web.api.odata import FilterKind, Page, PageParams, page_params
from seatwise.web.security import ApiPrincipal
from seatwise.web.state import web_state

router = APIRouter(prefix="/api/v1", tags=["audit"])

FILTERS: dict[str, FilterKind] = {"plan": "int"}


class AuditRecord(BaseModel):
    """One action on the tenant: who, when, what, and the user's licences before and after."""

    model_config = ConfigDict(extra="forbid")

    at: str
    actor: str
    action: str = Field(description="e.g. plan.create, plan.approve, licence.remove.")
    outcome: str
    plan: int | None
    upn: str | None
    user_id: str | None
    before: list[dict[str, Any]] | None
    after: list[dict[str, Any]] | None
    request_id: str | None = Field(description="Graph's request id.")
    message: str | None


class AuditPage(Page[AuditRecord]):
    """A page of audit events."""


@router.get(
    "/audit",
    summary="Audit log",
    response_model=AuditPage,
    response_class=JSONAnswer,
    responses={**ERRORS, 200: CSV_RESPONSE},
)
def audit(
    request: Request,
    _principal: ApiPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    tenant: TenantParam = None,
    filter_: Annotated[
        str | None,
        Query(alias="$filter", description="`plan eq 3`: only that plan's events."),
    ] = None,
    format: FormatParam = Format.json,  # noqa: A002
) -> Response:
    """The tenant's audit events, newest first (CSV: licences as text, as the CLI's CSV)."""
    wanted = filter_values(filter_, FILTERS)
    plan = wanted.get("plan")
    whole_csv = format is Format.csv and not params.explicit
    with web_state(request).session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        records = list(
            events(
                session,
                tenant_pk,
                plan_pk=int(plan) if plan is not None else None,
                limit=None if whole_csv else params.skip + params.top + 1,
                flat=format is Format.csv,
            )
        )
    return records_answer(request, records, params, format, KEYS, "audit")
