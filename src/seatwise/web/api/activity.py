"""The `activity` entity set: one record per user and service with the user's last activity
there (a date, or null), what it means (`status`: active, never, not_available), whether a
licence of the user includes the service and the usage reports' date; a service the user holds no
licence for and shows no activity in has no record. Pages are kept until the next sync.
`service=` narrows the services as `seatwise activity --service` does; licences of unmanaged SKUs
include no service (`licensed` false, no "never") unless `include_unmanaged=true`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from seatwise.analytics import activity as view
from seatwise.analytics.inputs import activity as inputs
from seatwise.errors import UsageError
from seatwise.web.api.common import (
    CSV_RESPONSE,
    ERRORS,
    JSONAnswer,
    TenantParam,
    count_answer,
    csv_answer,
    fail,
    synced_page,
    tenant_stamp,
)
from seatwise.web.api.edm import DATE, Edm, EntitySet
from seatwise.web.api.odata import (
    Options,
    Page,
    collection_body,
    options_dependency,
    run_records,
)
from seatwise.web.security import ApiPrincipal
from seatwise.web.state import web_state

routes = APIRouter(prefix="/api/v1", tags=["activity"])


class ActivityRecord(BaseModel):
    """One user's last activity in one service, true as of the report date."""

    model_config = ConfigDict(extra="forbid")

    user_id: str
    service: str = Field(description="One of the 11 services, e.g. Teams, Power BI.")
    upn: str
    display_name: str | None
    last_activity: Annotated[str | None, DATE] = Field(description="null: none recorded.")
    status: Annotated[Literal["active", "never", "not_available"], Edm(enum="ActivityStatus")]
    licensed: bool = Field(description="Whether a licence of the user includes the service.")
    report_date: Annotated[str | None, DATE] = Field(
        description="The usage reports' refresh date for this user."
    )


class ActivityPage(Page[ActivityRecord]):
    """A page of users' activity."""


ACTIVITY = EntitySet(
    "activity", ActivityRecord, ("user_id", "service"), title="Last activity per service"
)
Opts = Annotated[Options, Depends(options_dependency(ACTIVITY))]
ServiceParam = Annotated[
    list[str] | None,
    Query(description="Only these services (repeat; any case, e.g. Teams, power-bi)."),
]


def rows_of(facts: view.UserActivity, selected: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The records of one user: one per selected service the view shows a value for."""
    as_of = view.user_as_of(facts.activity)
    report_date = as_of.isoformat() if as_of else None
    for service in selected:
        licensed = service in facts.licensed
        shown = view.value(service, facts.activity.get(service), licensed)
        if shown is None:
            continue
        if isinstance(shown, date):
            status, last = "active", shown.isoformat()
        else:
            status, last = ("never" if shown == view.NEVER else "not_available"), None
        yield {
            "user_id": facts.user["id"],
            "service": service,
            "upn": facts.user["upn"],
            "display_name": facts.user.get("display_name"),
            "last_activity": last,
            "status": status,
            "licensed": licensed,
            "report_date": report_date,
        }


UnmanagedParam = Annotated[
    bool,
    Query(description="Count licences of SKUs marked unmanaged too (left out by default)."),
]


def _records(
    session: Session, tenant_pk: int, selected: Sequence[str], unmanaged: bool = False
) -> Iterator[dict[str, Any]]:
    for batch in inputs.iter_user_activity(session, tenant_pk, selected, unmanaged):
        for facts in batch:
            yield from rows_of(facts, selected)


def _selected(service: list[str] | None) -> tuple[str, ...]:
    try:
        return view.resolve_services(service)
    except UsageError as exc:
        fail(400, str(exc))


@routes.get(
    "/activity",
    summary="Last activity per user and service",
    response_model=ActivityPage,
    response_class=JSONAnswer,
    responses={**ERRORS, 200: CSV_RESPONSE},
)
def activity(
    request: Request,
    _principal: ApiPrincipal,
    options: Opts,
    tenant: TenantParam = None,
    service: ServiceParam = None,
    include_unmanaged: UnmanagedParam = False,
) -> Response:
    """Every live user's services, by UPN then the services' order."""
    selected = _selected(service)
    with web_state(request).session() as session:
        tenant_pk, stamp = tenant_stamp(session, tenant)
        if options.csv:
            rows, _, _ = run_records(
                _records(session, tenant_pk, selected, include_unmanaged),
                ACTIVITY,
                options,
                whole=True,
            )
            return csv_answer(rows, options.select or ACTIVITY.columns, "activity")

        def page() -> dict[str, Any]:
            shown, more, count = run_records(
                _records(session, tenant_pk, selected, include_unmanaged),
                ACTIVITY,
                options,
                whole=False,
            )
            return collection_body(request, ACTIVITY, options, shown, more=more, count=count)

        return synced_page(request, (tenant_pk, *stamp), options, page)


@routes.get(
    "/activity/$count",
    summary="Activity: how many",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def activity_count(
    request: Request,
    _principal: ApiPrincipal,
    options: Opts,
    tenant: TenantParam = None,
    service: ServiceParam = None,
    include_unmanaged: UnmanagedParam = False,
) -> Response:
    """How many records match `$filter`, as plain text."""
    selected = _selected(service)
    with web_state(request).session() as session:
        tenant_pk, _ = tenant_stamp(session, tenant)
        rows, _, _ = run_records(
            _records(session, tenant_pk, selected, include_unmanaged), ACTIVITY, options, whole=True
        )
    return count_answer(len(rows))
