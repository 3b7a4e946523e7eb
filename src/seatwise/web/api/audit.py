"""The `audit` entity set: the audit log of every change made to a tenant (`seatwise audit
--format json`, each event with its `id`), newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from seatwise.reclaim.audit import KEYS, events, of_tenant
from seatwise.store.schema import AuditEvent
from seatwise.web.api.common import register, resolve_tenant
from seatwise.web.api.edm import DATETIME, EntitySet
from seatwise.web.state import web_state

routes = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditRecord(BaseModel):
    """One action on the tenant: who, when, what, and the user's licences before and after."""

    model_config = ConfigDict(extra="forbid")

    id: int
    at: Annotated[str, DATETIME]
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


AUDIT = EntitySet("audit", AuditRecord, ("id",), KEYS, "Audit log")


def _load(request: Request, tenant: str | None) -> list[dict[str, Any]]:
    flat = request.query_params.get("$format", request.query_params.get("format", "")) == "csv"
    flat = flat or "text/csv" in request.headers.get("accept", "")
    with web_state(request).session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        # The same order as `events` (one transaction): the events' ids.
        ids = session.scalars(
            select(AuditEvent.pk)
            .where(of_tenant(tenant_pk))
            .order_by(AuditEvent.at.desc(), AuditEvent.pk.desc())
        ).all()
        found = list(events(session, tenant_pk, flat=flat))
    return [{"id": pk, **event} for pk, event in zip(ids, found, strict=True)]


register(
    routes,
    AUDIT,
    _load,
    summary="Audit log",
    description=(
        "The tenant's audit events, newest first (CSV: licences as text, as the CLI's CSV). "
        "`$filter=plan eq 3`: one plan's events."
    ),
)
