"""Reclamation plans (DESIGN §6) through the API: list them, read one with its licences
(`seatwise reclaim show ID --format json`), page through its items, make a draft
(`reclaim plan`) and approve it (`reclaim approve`). Applying a plan, which writes to the
tenant through Graph, stays in the CLI and the UI, where its dry run is shown first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from seatwise.errors import PlanError, UsageError
from seatwise.reclaim import approve, get_plan, make_plan, plan_records, plan_summary
from seatwise.reclaim.plans import SHOW_KEYS
from seatwise.store.schema import ReclaimPlan
from seatwise.web.api.common import (
    CSV_RESPONSE,
    ERRORS,
    JSONAnswer,
    TenantParam,
    collection_answer,
    fail,
    register,
    resolve_tenant,
    write_session,
)
from seatwise.web.api.edm import DATETIME, DECIMAL, EntitySet
from seatwise.web.api.odata import Options, Page, options_dependency
from seatwise.web.security import ApiAdmin, ApiPrincipal
from seatwise.web.state import web_state

routes = APIRouter(prefix="/api/v1", tags=["reclamation plans"])

PlanId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The plan's id.")]


class PlanSummary(BaseModel):
    """A plan's status, who made and approved it, its counts and its savings per currency."""

    model_config = ConfigDict(extra="forbid")

    id: int
    status: str = Field(
        description="draft, approved, applying, applied, partly applied (some users' licences "
        "removed, others refused), failed (nothing removed) or undone."
    )
    rules: list[str]
    only_managed: bool
    created_at: Annotated[str, DATETIME]
    created_by: str
    approved_at: Annotated[str | None, DATETIME]
    approved_by: str | None
    applied_at: Annotated[str | None, DATETIME]
    users: int
    licences_to_remove: int
    unmanaged_to_remove: int
    group_licences: int
    protected_users: int = Field(
        description="Protected users (MFA, SSO or excluded by the policy) included explicitly."
    )
    states: dict[str, int] = Field(description="How many users are in each state.")
    annual_savings: dict[str, str] = Field(description="currency → amount.")
    realised_savings: dict[str, str]


class PlanItem(BaseModel):
    """One licence of one user of the plan, and what the plan does with it."""

    model_config = ConfigDict(extra="forbid")

    upn: str
    user_id: str
    sku: str
    sku_id: str
    via: str | None = Field(description="The group it is inherited from (never removed).")
    action: str
    managed: bool
    annual_cost: Annotated[str | None, DECIMAL]
    currency: str | None
    state: str
    undo_state: str | None
    message: str | None
    reasons: list[str]
    protected: str | None = Field(
        description="Why the user is protected from reclamation (MFA, SSO, the policy), when "
        "the plan includes them explicitly; else null."
    )


class PlanDetail(PlanSummary):
    """A plan with every licence of every user."""

    licences: list[PlanItem]


class PlanItemRecord(PlanItem):
    """One licence of one user of a plan, with its plan and key."""

    id: str = Field(description="`plan:user_id:sku_id:via`.")
    plan_id: int


class PlanItemPage(Page[PlanItem]):
    """A page of a plan's licences."""


PLANS = EntitySet("plans", PlanSummary, ("id",), title="Reclamation plans")
PLAN_ITEMS = EntitySet(
    "plan_items",
    PlanItemRecord,
    ("id",),
    (*SHOW_KEYS, "user_id", "via"),
    "Licences of reclamation plans",
)


class PlanRequest(BaseModel):
    """Which users a new draft plan takes licences from."""

    model_config = ConfigDict(extra="forbid")

    rules: list[str] = Field(
        default_factory=list,
        description="Users these reclaim rules recommend (all reclaim rules when neither "
        "`rules` nor `users` is given).",
    )
    users: list[str] = Field(default_factory=list, description="These users (UPNs), too.")
    only_managed: bool = Field(False, description="Leave licences of unmanaged SKUs in place.")
    include_protected: bool = Field(
        False,
        description="Take licences from protected users named in `users` too (MFA registered, "
        "SSO, or excluded by the policy); without it such users are refused (422).",
    )


def _plan(session: Session, tenant_pk: int, plan_id: int) -> ReclaimPlan:
    try:
        return get_plan(session, tenant_pk, plan_id)
    except UsageError as exc:
        fail(404, str(exc))


def _policy(request: Request) -> Any:
    from seatwise.analytics.recommendations import Policy

    return Policy.from_mapping(web_state(request).settings.recommendations.model_dump())


def _plans(request: Request, tenant: str | None) -> list[dict[str, Any]]:
    with web_state(request).session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        found = session.scalars(
            select(ReclaimPlan)
            .where(ReclaimPlan.tenant_pk == tenant_pk)
            .order_by(ReclaimPlan.pk.desc())
        )
        return [plan_summary(session, p) for p in found]


def _items_of(session: Session, plan: ReclaimPlan) -> list[dict[str, Any]]:
    return [
        {
            **item,
            "id": f"{plan.pk}:{item['user_id']}:{item['sku_id']}:{item['via'] or ''}",
            "plan_id": plan.pk,
        }
        for item in plan_records(session, plan)
    ]


def _plan_items(request: Request, tenant: str | None) -> list[dict[str, Any]]:
    with web_state(request).session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        found = session.scalars(
            select(ReclaimPlan)
            .where(ReclaimPlan.tenant_pk == tenant_pk)
            .order_by(ReclaimPlan.pk.desc())
        )
        return [item for p in found for item in _items_of(session, p)]


# Before `/plans/{plan_id}`: routes are tried in order, and `$count` is no plan id.
register(
    routes,
    PLANS,
    _plans,
    summary="Reclamation plans",
    description="The tenant's plans, newest first, each with its summary.",
)
register(
    routes,
    PLAN_ITEMS,
    _plan_items,
    summary="Licences of reclamation plans",
    description=(
        "One record per plan, user and licence (newest plan first, then by UPN), with what "
        "the plan does with it."
    ),
)


@routes.get(
    "/plans/{plan_id}",
    summary="One plan with its licences",
    response_model=PlanDetail,
    response_class=JSONAnswer,
    responses=ERRORS,
)
def plan(
    request: Request, plan_id: PlanId, _principal: ApiPrincipal, tenant: TenantParam = None
) -> Response:
    """The plan's summary and every user's licences: removed, kept, or inherited from a group
    (what `seatwise reclaim show ID --format json` prints)."""
    with web_state(request).session() as session:
        found = _plan(session, resolve_tenant(session, tenant).pk, plan_id)
        body = {**plan_summary(session, found), "licences": list(plan_records(session, found))}
    return JSONAnswer(body)


ItemOptions = Annotated[Options, Depends(options_dependency(PLAN_ITEMS))]


@routes.get(
    "/plans/{plan_id}/items",
    summary="A plan's licences, paged",
    response_model=PlanItemPage,
    response_class=JSONAnswer,
    responses={**ERRORS, 200: CSV_RESPONSE},
)
def plan_items(
    request: Request,
    plan_id: PlanId,
    _principal: ApiPrincipal,
    options: ItemOptions,
    tenant: TenantParam = None,
) -> Response:
    """One record per user and licence of the plan, by UPN (CSV: the columns of `seatwise
    reclaim show ID --format csv`); the `plan_items` entity set holds those of every plan."""
    with web_state(request).session() as session:
        found = _plan(session, resolve_tenant(session, tenant).pk, plan_id)
        records = list(plan_records(session, found))
    return collection_answer(request, PLAN_ITEMS, options, records, f"plan-{plan_id}")


@routes.post(
    "/plans",
    summary="Make a draft plan",
    status_code=201,
    response_model=PlanSummary,
    response_class=JSONAnswer,
    responses={**ERRORS, 409: ERRORS[400] | {"description": "Nobody qualifies."}},
)
def create_plan(
    request: Request,
    principal: ApiAdmin,
    body: Annotated[PlanRequest, Body()],
    tenant: TenantParam = None,
) -> Response:
    """Store a draft plan for the users the rules recommend reclaiming from plus the users
    named, as `seatwise reclaim plan` does. Nothing is sent to the tenant. Admin tokens only."""
    now = datetime.now(UTC)
    with write_session(web_state(request).engine) as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        try:
            made = make_plan(
                session,
                tenant_pk,
                actor=f"api:{principal.name}",
                policy=_policy(request),
                as_of=now.date(),
                now=now,
                rules=body.rules,
                upns=body.users,
                only_managed=body.only_managed,
                include_protected=body.include_protected,
                protected_hint='"include_protected": true',
            )
        except UsageError as exc:
            fail(422, str(exc))
        except PlanError as exc:
            fail(409, str(exc))
        summary = plan_summary(session, made)
    return JSONAnswer(summary, status_code=201)


@routes.post(
    "/plans/{plan_id}/approve",
    summary="Approve a draft plan",
    response_model=PlanSummary,
    response_class=JSONAnswer,
    responses={**ERRORS, 409: ERRORS[400] | {"description": "The plan is not a draft."}},
)
def approve_plan(
    request: Request, plan_id: PlanId, principal: ApiAdmin, tenant: TenantParam = None
) -> Response:
    """Approve a draft plan so that it can be applied (with `seatwise reclaim apply ID` or in
    the UI). Admin tokens only."""
    with write_session(web_state(request).engine) as session:
        found = _plan(session, resolve_tenant(session, tenant).pk, plan_id)
        try:
            approve(session, found, f"api:{principal.name}", datetime.now(UTC))
        except PlanError as exc:
            fail(409, str(exc))
        summary = plan_summary(session, found)
    return JSONAnswer(summary)
