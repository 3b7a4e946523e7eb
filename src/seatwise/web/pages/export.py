"""The ITAM export (`/export/itam.csv`, `/export/itam.json`): every tenant's licences as a hybrid
IT asset management position, one record per SKU, built by `seatwise.web.api.itam` (which also
serves it as the API's `itam` entity set).

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

from seatwise.cells import FORMULA_START
from seatwise.web.api.itam import ITAM_KEYS, itam_records, itam_rows
from seatwise.web.security import User
from seatwise.web.state import web_state

__all__ = ["ITAM_KEYS", "itam_records", "itam_rows", "router"]

router = APIRouter(include_in_schema=False)


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
