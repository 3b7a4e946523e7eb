"""The ITAM export for signed-in users: `/export/itam.csv` and `/export/itam.json` (one record
per tenant and managed SKU) and `/export/itam-consumption.csv` and `.json` (one record per
user holding a managed SKU), built by `seatwise.workspace.itam` — the records of the API's `itam`
and `itam_consumption` entity sets and of `seatwise export itam [--consumption]`.

Unmanaged SKUs are left out. A SKU is `retired` when it left the tenant's subscriptions or the
tenant integration is deactivated or superseded, `expired` when its contract has ended, else
`active`. CSV cells read as in every other export (`seatwise.cells`: formulas defused).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from seatwise.analytics.itam import CONSUMPTION_KEYS, ITAM_KEYS
from seatwise.cells import csv_cell
from seatwise.web.downloads import attachment
from seatwise.web.security import User
from seatwise.web.state import web_state
from seatwise.workspace import itam

__all__ = ["CONSUMPTION_KEYS", "ITAM_KEYS", "itam_rows", "router", "to_csv"]

router = APIRouter(include_in_schema=False)


def itam_rows(session: Session) -> list[dict[str, Any]]:
    """Every tenant's ITAM records as of today (see `seatwise.workspace.itam.position`)."""
    return itam.position(session, date.today())


def to_csv(rows: Iterable[Mapping[str, Any]], keys: Sequence[str] = ITAM_KEYS) -> str:
    """`rows` as CSV with a header of `keys`; cells as `seatwise.cells.csv_cell` writes them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(keys)
    for row in rows:
        writer.writerow([csv_cell(row[key]) for key in keys])
    return out.getvalue()


def _filename(stem: str, extension: str) -> str:
    return f"seatwise-{stem}-{datetime.now(UTC).date().isoformat()}.{extension}"


Loader = Callable[[Session, date], list[dict[str, Any]]]


def _load(request: Request, loader: Loader) -> list[dict[str, Any]]:
    with web_state(request).session() as session:
        return loader(session, date.today())


def _csv(request: Request, loader: Loader, keys: Sequence[str], stem: str) -> Response:
    return Response(
        to_csv(_load(request, loader), keys),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment(_filename(stem, "csv"))},
    )


def _json(request: Request, loader: Loader, stem: str) -> Response:
    return JSONResponse(
        _load(request, loader),
        headers={"Content-Disposition": attachment(_filename(stem, "json"))},
    )


@router.get("/export/itam.csv")
def itam_csv(request: Request, _user: User) -> Response:
    """The ITAM position as CSV."""
    return _csv(request, itam.position, ITAM_KEYS, "itam")


@router.get("/export/itam.json")
def itam_json(request: Request, _user: User) -> Response:
    """The ITAM position as a JSON array of objects with exactly `ITAM_KEYS`."""
    return _json(request, itam.position, "itam")


@router.get("/export/itam-consumption.csv")
def consumption_csv(request: Request, _user: User) -> Response:
    """The named-user consumption rows as CSV."""
    return _csv(request, itam.consumption, CONSUMPTION_KEYS, "itam-consumption")


@router.get("/export/itam-consumption.json")
def consumption_json(request: Request, _user: User) -> Response:
    """The named-user consumption rows as a JSON array of objects with `CONSUMPTION_KEYS`."""
    return _json(request, itam.consumption, "itam-consumption")
