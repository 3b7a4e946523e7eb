"""`GET /api/v1/activity`: each user's last activity per service (the records of `seatwise
activity --format json`): a date, "never", "not available" (Visio) or null (not licensed)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from seatwise import services
from seatwise.analytics import activity as view
from seatwise.analytics.inputs import activity as inputs
from seatwise.errors import UsageError
from seatwise.web.api.common import (
    CSV_RESPONSE,
    ERRORS,
    Format,
    FormatParam,
    JSONAnswer,
    TenantParam,
    fail,
    synced_collection,
)
from seatwise.web.api.odata import Page, PageParams, page_params
from seatwise.web.security import ApiPrincipal
from seatwise.web.state import web_state

router = APIRouter(prefix="/api/v1", tags=["activity"])

_SERVICE_DOC = 'A date (ISO 8601), "never", "not available", or null when not licensed.'


class _Head(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    upn: str
    display_name: str | None


# One optional key per service (a service missing from the record was not asked for).
_service_fields: dict[str, Any] = {
    f"s{i}": (str | None, Field(None, alias=name, description=_SERVICE_DOC))
    for i, name in enumerate(services.SERVICES)
}
ActivityRecord = create_model(
    "ActivityRecord",
    __base__=_Head,
    __doc__="One user's last activity per service, true as of the report date `as_of`.",
    as_of=(str | None, Field(description="The usage reports' refresh date for this user.")),
    **_service_fields,
)


class ActivityPage(Page[ActivityRecord]):  # type: ignore[valid-type]
    """A page of users' activity."""


def _per_user(session: Any, tenant_pk: int, selected: Sequence[str]) -> Iterator[dict[str, Any]]:
    for batch in inputs.iter_user_activity(session, tenant_pk, selected):
        for facts in batch:
            yield view.build(facts, selected)


@router.get(
    "/activity",
    summary="Last activity per user and service",
    response_model=ActivityPage,
    response_class=JSONAnswer,
    responses={**ERRORS, 200: CSV_RESPONSE},
)
def activity(
    request: Request,
    _principal: ApiPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    tenant: TenantParam = None,
    service: Annotated[
        list[str] | None,
        Query(description="Only these services (repeat; any case, e.g. Teams, power-bi)."),
    ] = None,
    format: FormatParam = Format.json,  # noqa: A002
) -> Response:
    """Every live user, by UPN: `id, upn, display_name`, one key per service, `as_of`."""
    try:
        selected = view.resolve_services(service)
    except UsageError as exc:
        fail(400, str(exc))
    return synced_collection(
        request,
        tenant,
        params,
        format,
        (view.keys(selected), "activity"),
        lambda tenant_pk: _streamed(request, tenant_pk, selected),
        lambda session, tenant_pk: _window(session, tenant_pk, selected, params),
    )


def _window(
    session: Any, tenant_pk: int, selected: Sequence[str], params: PageParams
) -> tuple[list[dict[str, Any]], bool]:
    """The records of one page, and whether more follow."""
    window: list[dict[str, Any]] = []
    for index, record in enumerate(_per_user(session, tenant_pk, selected)):
        if index >= params.skip + params.top:
            return window, True
        if index >= params.skip:
            window.append(record)
    return window, False


def _streamed(
    request: Request, tenant_pk: int, selected: Sequence[str]
) -> Iterator[dict[str, Any]]:
    with web_state(request).session() as session:
        yield from _per_user(session, tenant_pk, selected)
