"""The ITAM export (`/export/itam.csv`, `/export/itam.json`): every tenant's licences as a hybrid
IT asset management position, one record per SKU, built on `seatwise.analytics.licenses`.

A SKU is `retired` when it left the tenant's subscriptions or the tenant integration is
deactivated, else `active`; retired SKUs keep their counts and contract terms but have no annual
cost (they take part in no calculation, as in `seatwise licenses`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from seatwise.analytics import licenses as view
from seatwise.analytics.inputs import licenses as inputs
from seatwise.cells import FORMULA_START
from seatwise.store.schema import Tenant
from seatwise.web.security import User
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants

__all__ = ["ITAM_KEYS", "itam_records", "itam_rows", "router"]

router = APIRouter(include_in_schema=False)

PUBLISHER = "Microsoft"
ITAM_KEYS = (
    "tenant",
    "tenant_id",
    "publisher",
    "product_name",
    "sku_part_number",
    "sku_id",
    "license_type",
    "purchased",
    "consumed",
    "available",
    "cost",
    "currency",
    "payment_frequency",
    "annual_cost",
    "effective_date",
    "expiration_date",
    "managed",
    "status",
)
# A spreadsheet would run a text cell starting with one of these as a formula.


def itam_records(tenant: Tenant, positions: Iterable[view.LicensePosition]) -> list[dict[str, Any]]:
    """The ITAM records (exactly `ITAM_KEYS`, JSON-ready) of one tenant's licence positions."""
    records = []
    for item in positions:
        retired = item.retired or not tenant.active
        base = item.record()
        records.append(
            {
                "tenant": tenant.name,
                "tenant_id": tenant.tenant_id,
                "publisher": PUBLISHER,
                "product_name": item.name,
                "sku_part_number": item.sku_part_number,
                "sku_id": item.sku_id,
                "license_type": item.license_type,
                "purchased": item.purchased,
                "consumed": item.assigned,
                "available": item.available,
                "cost": base["cost"],
                "currency": item.currency,
                "payment_frequency": item.payment_frequency,
                "annual_cost": None if retired else base["annual_cost"],
                "effective_date": base["effective_date"],
                "expiration_date": base["expiration_date"],
                "managed": item.managed,
                "status": "retired" if retired else "active",
            }
        )
    return records


def itam_rows(session: Session) -> list[dict[str, Any]]:
    """Every SKU of every tenant (unmanaged and retired ones included), by tenant name."""
    rows: list[dict[str, Any]] = []
    for tenant in all_tenants(session):
        positions = view.build(
            inputs.sku_rows(session, tenant.pk),
            inputs.contract_rows(session, tenant.pk),
            include_all=True,
        )
        rows.extend(itam_records(tenant, positions))
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_START):
        return "'" + text
    return text


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """`rows` as CSV with a header of `ITAM_KEYS`; empty cells for nulls."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ITAM_KEYS)
    for row in rows:
        writer.writerow([_cell(row[key]) for key in ITAM_KEYS])
    return out.getvalue()


def _filename(extension: str) -> str:
    return f"seatwise-itam-{datetime.now(UTC).date().isoformat()}.{extension}"


def _load(request: Request) -> list[dict[str, Any]]:
    with web_state(request).session() as session:
        return itam_rows(session)


@router.get("/export/itam.csv")
def itam_csv(request: Request, _user: User) -> Response:
    """The ITAM position as CSV."""
    return Response(
        to_csv(_load(request)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename("csv")}"'},
    )


@router.get("/export/itam.json")
def itam_json(request: Request, _user: User) -> Response:
    """The ITAM position as a JSON array of objects with exactly `ITAM_KEYS`."""
    return JSONResponse(
        _load(request),
        headers={"Content-Disposition": f'attachment; filename="{_filename("json")}"'},
    )
