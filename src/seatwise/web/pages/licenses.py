"""Licenses: every SKU's position (as `seatwise licenses --all`), totals per currency and the
renewal horizon; admins edit the contract terms and the managed flag through the same
validation and write path as `seatwise license set` (analytics.licenses, inputs.set_contract).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import URL

from seatwise.analytics import licenses as view
from seatwise.analytics.inputs import licenses as inputs
from seatwise.errors import UsageError
from seatwise.store.schema import Tenant
from seatwise.web import charts
from seatwise.web.render import page
from seatwise.web.security import Admin, Csrf, User
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants, pick_tenant
from seatwise.workspace.accounts import Principal
from seatwise.workspace.contracts import set_contract

router = APIRouter(include_in_schema=False)

HORIZON_DAYS = 90
# Form field → (label, the CLI option whose name the shared validation messages use).
FIELDS = {
    "cost": ("Cost", "--cost"),
    "currency": ("Currency", "--currency"),
    "payment_frequency": ("Payment frequency", "--payment-frequency"),
    "effective_date": ("Effective date", "--effective-date"),
    "expiration_date": ("Expiration date", "--expiration-date"),
}


def _effective(text: str) -> date:
    return view.parse_date(text, "--effective-date")


def _expiration(text: str) -> date:
    return view.parse_date(text, "--expiration-date")


_PARSERS: dict[str, Callable[[str], Any]] = {
    "cost": view.parse_cost,
    "currency": view.parse_currency,
    "payment_frequency": view.parse_frequency,
    "effective_date": _effective,
    "expiration_date": _expiration,
}


def _worded(message: str) -> str:
    """A validation message in the form's words: field labels instead of CLI options."""
    for label, option in FIELDS.values():
        message = message.replace(option, label)
    return message[:1].upper() + message[1:]


def parse_form(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The contract terms of the edit form, parsed (an empty field clears the term), and the
    error message of each field that does not parse."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in FIELDS:
        text = (form.get(name) or "").strip()
        if not text:
            changes[name] = None
            continue
        try:
            changes[name] = _PARSERS[name](text)
        except UsageError as exc:
            errors[name] = _worded(str(exc))
    return changes, errors


def _tenant(request: Request, session: Session) -> Tenant:
    tenant = pick_tenant(request, session)
    if tenant is None:
        raise HTTPException(404, "No tenant is connected yet; add one in Settings.")
    return tenant


def _sku(session: Session, tenant: Tenant, sku_id: str) -> dict[str, Any]:
    for row in inputs.sku_rows(session, tenant.pk):
        if row["sku_id"].casefold() == sku_id.casefold():
            return row
    raise HTTPException(404, f"The tenant {tenant.name} has no SKU {sku_id}.")


def _contract_form(session: Session, tenant: Tenant, sku_id: str) -> dict[str, str]:
    """The stored terms of one SKU as the form shows them."""
    for row in inputs.contract_rows(session, tenant.pk):
        if row["sku_id"].casefold() == sku_id.casefold():
            return {
                "cost": view.price(row["cost"]) or "",
                "currency": row["currency"] or "",
                "payment_frequency": row["payment_frequency"] or "",
                "effective_date": row["effective_date"].isoformat()
                if row["effective_date"]
                else "",
                "expiration_date": row["expiration_date"].isoformat()
                if row["expiration_date"]
                else "",
            }
    return dict.fromkeys(FIELDS, "")


def _listing(request: Request, user: Principal, messages: list[tuple[str, str]]) -> Response:
    with web_state(request).session() as session:
        tenants = all_tenants(session)
        tenant = pick_tenant(request, session)
        context: dict[str, Any] = {
            "messages": messages,
            "horizon": HORIZON_DAYS,
            "today": date.today(),
        }
        if tenant is not None:
            found = view.build(
                inputs.sku_rows(session, tenant.pk), inputs.contract_rows(session, tenant.pk), True
            )
            counted = [p for p in found if p.counted]
            paid = [p for p in counted if p.license_type != "free"]  # free ones come in 10,000s
            context |= {
                "positions": found,
                "totals": view.totals(counted),
                "expiring": view.expiring(counted, date.today(), HORIZON_DAYS),
                "unused_chart": charts.bar_chart(
                    [(p.name, float(p.available)) for p in paid if p.available > 0],
                    title="Unused paid licences per SKU",
                    empty="Every paid licence is assigned.",
                ),
                "money": view.money,
                "price": view.price,
            }
        return page(
            request,
            "licenses.html",
            context,
            user=user,
            tenant=tenant,
            tenants=tenants,
            title="Licenses",
        )


@router.get("/licenses")
def licenses(request: Request, user: User, saved: str | None = None) -> Response:
    """Every SKU's position with its contract, totals per currency, renewals within 90 days."""
    messages = [("ok", f"Saved the contract of {saved}.")] if saved else []
    return _listing(request, user, messages)


def _edit_page(
    request: Request,
    user: Principal,
    session: Session,
    tenant: Tenant,
    sku: Mapping[str, Any],
    values: Mapping[str, str],
    errors: Mapping[str, str],
    status_code: int = 200,
) -> Response:
    messages = [("error", text) for text in errors.values()]
    return page(
        request,
        "licenses_edit.html",
        {
            "sku": sku,
            "values": values,
            "errors": errors,
            "fields": FIELDS,
            "frequencies": tuple(view.PERIODS_PER_YEAR),
            "messages": messages,
        },
        user=user,
        tenant=tenant,
        tenants=all_tenants(session),
        title=f"Contract of {sku['name']}",
        status_code=status_code,
    )


@router.get("/licenses/{sku_id}/edit")
def edit_form(request: Request, user: Admin, sku_id: str) -> Response:
    """The contract form of one SKU (admins only)."""
    with web_state(request).session() as session:
        tenant = _tenant(request, session)
        sku = _sku(session, tenant, sku_id)
        values = _contract_form(session, tenant, sku["sku_id"])
        return _edit_page(request, user, session, tenant, sku, values, {})


def _back(tenant: Tenant, **params: str) -> RedirectResponse:
    target = URL("/licenses").include_query_params(tenant=tenant.name, **params)
    return RedirectResponse(str(target), status_code=303)


@router.post("/licenses/{sku_id}", dependencies=[Csrf])
async def save_contract(request: Request, user: Admin, sku_id: str) -> Response:
    """Check and store the contract terms of one SKU; on any error show the form again with the
    messages and store nothing."""
    form = await request.form()
    values = {name: str(form.get(name) or "") for name in FIELDS}
    changes, errors = parse_form(values)
    with web_state(request).session(write=True) as session:
        tenant = _tenant(request, session)
        sku = _sku(session, tenant, sku_id)
        if not errors:
            try:
                set_contract(
                    session,
                    tenant.pk,
                    sku,
                    changes,
                    actor=f"web:{user.name}",
                    now=datetime.now(UTC),
                )
            except UsageError as exc:  # raised before anything is written
                errors["form"] = _worded(str(exc))
        if errors:
            return _edit_page(request, user, session, tenant, sku, values, errors, 422)
        return _back(tenant, saved=sku["part_number"])


@router.post("/licenses/{sku_id}/managed", dependencies=[Csrf])
def set_managed(
    request: Request, user: Admin, sku_id: str, managed: Annotated[str, Form()]
) -> Response:
    """Count a SKU in every calculation (managed=yes) or leave it out (managed=no)."""
    if managed not in ("yes", "no"):
        raise HTTPException(422, "managed must be yes or no.")
    with web_state(request).session(write=True) as session:
        tenant = _tenant(request, session)
        sku = _sku(session, tenant, sku_id)
        set_contract(
            session,
            tenant.pk,
            sku,
            {"managed": managed == "yes"},
            actor=f"web:{user.name}",
            now=datetime.now(UTC),
        )
        return _back(tenant, saved=sku["part_number"])
