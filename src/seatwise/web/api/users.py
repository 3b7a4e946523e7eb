"""`GET /api/v1/users` and `/api/v1/users/{id}`: the Users view (DESIGN §4), the records of
`seatwise users --format json`, with the CLI's filters as `$filter` and its sort as `$orderby`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from seatwise.analytics.inputs import users as inputs
from seatwise.analytics.users import KEYS, build
from seatwise.web.api.common import (
    CSV_RESPONSE,
    ERRORS,
    Format,
    FormatParam,
    JSONAnswer,
    TenantParam,
    fail,
    filter_values,
    resolve_tenant,
    synced_collection,
)
from seatwise.web.api.odata import (
    FilterKind,
    Page,
    PageParams,
    page_params,
)
from seatwise.web.security import ApiPrincipal
from seatwise.web.state import web_state

router = APIRouter(prefix="/api/v1", tags=["users"])

FILTERS: dict[str, FilterKind] = {
    "upn": "contains",
    "license": "text",
    "guest": "bool",
    "blocked": "bool",
    "mfa": "bool",
    "inactive_days": "min",
    "country": "text",
}


class UserLicence(BaseModel):
    """A licence the user holds, directly or through a group."""

    model_config = ConfigDict(extra="forbid")

    sku_id: str
    sku_part_number: str
    name: str
    assigned_by_group: str | None = Field(description="The group's id when inherited.")


class UserActivation(BaseModel):
    """Microsoft 365 Apps activations of one product, per platform."""

    model_config = ConfigDict(extra="forbid")

    product: str
    last_activated: str | None
    windows: int
    mac: int
    windows10_mobile: int
    ios: int
    android: int


class UserRecord(BaseModel):
    """One user (DESIGN §4); dates ISO 8601, null when unknown."""

    model_config = ConfigDict(extra="forbid")

    id: str
    upn: str
    email: str | None
    first_name: str | None
    last_name: str | None
    display_name: str | None
    licenses: list[UserLicence]
    active_date: str | None
    deactivated_date: str | None
    block_credentials: bool | None
    mfa_enabled: bool | None
    last_used_app: str | None = Field(description="One of the 11 services.")
    last_sign_in: str | None
    last_activity: str | None = Field(description='null: never active ("Never" in the UI).')
    days_since_last_activity: int | None = Field(description="Counted from the report date.")
    activations: list[UserActivation]
    mail_usage_mb: float | None
    onedrive_usage_mb: float | None
    windows: bool | None
    mac: bool | None
    mobile: bool | None
    web: bool | None
    on_premises_sync: bool
    guest: bool
    title: str | None
    country: str | None
    account_created: str | None


class UserPage(Page[UserRecord]):
    """A page of users."""


FILTER_DOC = (
    "Any of `contains(upn,'text')`, `license eq 'SPE_E3'` (part number or skuId), "
    "`guest eq true`, `blocked eq false`, `mfa eq true`, `inactive_days ge 90` (no activity in "
    "the last N days, or never), `country eq 'Germany'`, joined by `and`."
)
ORDER_DOC = (
    "One column of the record, then `asc` (default) or `desc`, e.g. `last_activity desc`; "
    "default `upn`."
)


def _query(filter_: str | None, orderby: str | None) -> inputs.UserQuery:
    found = filter_values(filter_, FILTERS)
    sort, descending = "upn", False
    if orderby and orderby.strip():
        parts = orderby.split()
        if len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
            fail(400, f"$orderby takes one column and asc or desc, not {orderby!r}.")
        if parts[0] not in inputs.SORTABLE:
            fail(400, f"Cannot order by {parts[0]!r}; columns: {', '.join(inputs.SORTABLE)}.")
        sort, descending = parts[0], len(parts) == 2 and parts[1].lower() == "desc"
    return inputs.UserQuery(
        upn=_text(found.get("upn")),
        license=_text(found.get("license")),
        guest=_flag(found.get("guest")),
        blocked=_flag(found.get("blocked")),
        mfa=_flag(found.get("mfa")),
        inactive_days=_number(found.get("inactive_days")),
        country=_text(found.get("country")),
        sort=sort,
        descending=descending,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@router.get(
    "/users",
    summary="Users",
    response_model=UserPage,
    response_class=JSONAnswer,
    responses={**ERRORS, 200: CSV_RESPONSE},
)
def users(
    request: Request,
    _principal: ApiPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    tenant: TenantParam = None,
    filter_: Annotated[str | None, Query(alias="$filter", description=FILTER_DOC)] = None,
    orderby: Annotated[str | None, Query(alias="$orderby", description=ORDER_DOC)] = None,
    format: FormatParam = Format.json,  # noqa: A002
) -> Response:
    """Every user with licences, sign-in, activity, storage and platforms: the records of
    `seatwise users --format json`, in the same order."""
    query = _query(filter_, orderby)
    return synced_collection(
        request,
        tenant,
        params,
        format,
        (KEYS, "users"),
        lambda tenant_pk: _every(request, tenant_pk, query),
        lambda session, tenant_pk: _page(session, tenant_pk, query, params),
    )


def _page(
    session: Session, tenant_pk: int, query: inputs.UserQuery, params: PageParams
) -> tuple[list[dict[str, Any]], bool]:
    """One page of records, and whether more follow."""
    names = inputs.sku_names(session, tenant_pk)
    ids = inputs.query_ids(session, tenant_pk, query, params.top + 1, params.skip)
    facts = inputs.user_facts(session, tenant_pk, ids[: params.top])
    return [build(f, names) for f in facts], len(ids) > params.top


def _every(request: Request, tenant_pk: int, query: inputs.UserQuery) -> Iterator[dict[str, Any]]:
    """Every matching user's record, read lazily (in its own unit of work) while streaming."""
    with web_state(request).session() as session:
        names = inputs.sku_names(session, tenant_pk)
        for batch in inputs.iter_query_facts(session, tenant_pk, query):
            for facts in batch:
                yield build(facts, names)


@router.get(
    "/users/{user_id}",
    summary="One user",
    response_model=UserRecord,
    response_class=JSONAnswer,
    responses=ERRORS,
)
def user(
    request: Request, user_id: str, _principal: ApiPrincipal, tenant: TenantParam = None
) -> Response:
    """One user's record, by Entra object id."""
    with web_state(request).session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        found = inputs.user_facts(session, tenant_pk, [user_id])
        if not found:
            fail(404, f"There is no user with id {user_id!r}.")
        record = build(found[0], inputs.sku_names(session, tenant_pk))
    return JSONAnswer(record)
