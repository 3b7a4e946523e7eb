"""The `licenses` entity set (licence positions, DESIGN §5: the records of `seatwise licenses
--format json`) and `PATCH /api/v1/licenses/{sku}` (contract terms and the managed flag, through
the same validation and write as `seatwise license set`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from seatwise.analytics import licenses as view
from seatwise.analytics.inputs import licenses as inputs
from seatwise.errors import UsageError
from seatwise.web.api.common import (
    ERRORS,
    JSONAnswer,
    TenantParam,
    fail,
    register,
    resolve_tenant,
    write_session,
)
from seatwise.web.api.edm import DATE, DECIMAL, EntitySet
from seatwise.web.security import ApiAdmin
from seatwise.web.state import web_state
from seatwise.workspace.contracts import set_contract

routes = APIRouter(prefix="/api/v1", tags=["licenses"])


class LicenseRecord(BaseModel):
    """One SKU's position (DESIGN §5); money as decimal strings, per currency."""

    model_config = ConfigDict(extra="forbid")

    sku_id: str
    sku_part_number: str
    name: str
    license_type: str = Field(description="paid, free, trial or unknown.")
    purchased: int
    assigned: int
    available: int
    suspended: int
    warning: int
    managed: bool
    effective_date: Annotated[str | None, DATE]
    expiration_date: Annotated[str | None, DATE]
    cost: Annotated[str | None, DECIMAL] = Field(
        description="Price of one licence per payment period."
    )
    currency: str | None
    payment_frequency: str | None
    annual_cost: Annotated[str | None, DECIMAL]
    unused_annual_cost: Annotated[str | None, DECIMAL]


LICENSES = EntitySet("licenses", LicenseRecord, ("sku_id",), view.KEYS, "Licence positions")


def _load(request: Request, tenant: str | None) -> list[dict[str, Any]]:
    """Managed SKUs still subscribed, by part number; every SKU with `?all=true`."""
    every = request.query_params.get("all", "false").lower() in ("true", "1", "yes")
    with web_state(request).session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        found = view.build(
            inputs.sku_rows(session, tenant_pk), inputs.contract_rows(session, tenant_pk), every
        )
    return [p.record() for p in found]


register(
    routes,
    LICENSES,
    _load,
    summary="Licence positions",
    description=(
        "Every SKU with purchased, assigned and available units and its contract cost, by part "
        "number: the records of `seatwise licenses --format json`; managed SKUs still "
        "subscribed unless `all=true` (the CLI's `--all`)."
    ),
)


class ContractChange(BaseModel):
    """Contract terms to change; fields left out are kept, `null` clears a term."""

    model_config = ConfigDict(extra="forbid")

    cost: str | float | None = Field(
        None, description='Price of one licence per payment period, e.g. "12.50" (≥ 0).'
    )
    currency: str | None = Field(None, description="ISO 4217 code, e.g. EUR.")
    payment_frequency: str | None = Field(None, description="monthly or annual.")
    effective_date: str | None = Field(None, description="Contract start, e.g. 2026-01-01.")
    expiration_date: str | None = Field(None, description="Contract end (the renewal date).")
    managed: bool | None = Field(
        None, description="false leaves the SKU out of every calculation (cannot be null)."
    )


# The CLI's messages name its options; the API's name the body's fields.
_WORDING = {
    "--cost": "cost",
    "--currency": "currency",
    "--payment-frequency": "payment_frequency",
}


def _api_wording(message: str) -> str:
    for option, field in _WORDING.items():
        message = message.replace(option, field)
    return message


def _date(value: str, name: str) -> date:
    return view.parse_date(value, name)


def _changes(body: ContractChange) -> dict[str, Any]:
    """The sent fields, parsed and checked as `seatwise license set` does; 422 otherwise."""
    sent = body.model_fields_set
    if not sent:
        fail(422, f"Send at least one of {', '.join(inputs.CONTRACT_FIELDS)}.")
    changes: dict[str, Any] = {}
    try:
        for name in sent:
            value = getattr(body, name)
            if value is None:
                if name == "managed":
                    raise UsageError("managed must be true or false, not null.")
                changes[name] = None
            elif name == "cost":
                changes[name] = view.parse_cost(str(value))
            elif name == "currency":
                changes[name] = view.parse_currency(value)
            elif name == "payment_frequency":
                changes[name] = view.parse_frequency(value)
            elif name in ("effective_date", "expiration_date"):
                changes[name] = _date(value, name)
            else:
                changes[name] = value
    except UsageError as exc:
        fail(422, _api_wording(str(exc)))
    return changes


@routes.patch(
    "/licenses/{sku}",
    summary="Change a SKU's contract terms or managed flag",
    response_model=LicenseRecord,
    response_class=JSONAnswer,
    responses=ERRORS,
)
def change_contract(
    request: Request,
    sku: str,
    principal: ApiAdmin,
    body: Annotated[ContractChange, Body()],
    tenant: TenantParam = None,
) -> Response:
    """Set some contract terms of the SKU (its skuId or part number, any case), keeping the
    others; syncs never change them. Invalid or inconsistent terms answer 422 with one sentence
    and store nothing. Admin API tokens only. Answers the SKU's new position."""
    changes = _changes(body)
    with write_session(web_state(request).engine) as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        try:
            found = inputs.find_sku(session, tenant_pk, sku)
        except UsageError as exc:
            fail(404, str(exc))
        try:
            set_contract(
                session,
                tenant_pk,
                found,
                changes,
                actor=f"api:{principal.name}",
                now=datetime.now(UTC),
            )
        except UsageError as exc:
            fail(422, _api_wording(str(exc)))
        positions = view.build(
            inputs.sku_rows(session, tenant_pk), inputs.contract_rows(session, tenant_pk), True
        )
    record = next(p.record() for p in positions if p.sku_id == found["sku_id"])
    return JSONAnswer(record)
