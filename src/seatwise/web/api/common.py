"""What every reporting-API endpoint shares: the `?tenant=` and `?format=` parameters, JSON and
CSV answers (the CSV cells are the CLI's), the error shape in the OpenAPI schema, and `fail`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import orjson
from fastapi import HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from seatwise.cells import csv_cell
from seatwise.store import session_scope
from seatwise.store.reads import stamp_columns
from seatwise.store.schema import Tenant
from seatwise.web.api.odata import FilterKind, PageParams, collection, parse_filter_values
from seatwise.web.state import web_state

__all__ = [
    "filter_values",
    "CSV_RESPONSE",
    "ERRORS",
    "Format",
    "FormatParam",
    "JSONAnswer",
    "TenantParam",
    "csv_answer",
    "fail",
    "page_answer",
    "records_answer",
    "resolve_tenant",
    "synced_collection",
    "write_session",
]


class ErrorDetail(BaseModel):
    """What went wrong, in one sentence."""

    model_config = ConfigDict(extra="forbid")

    code: int = Field(description="The HTTP status.")
    message: str


class ErrorBody(BaseModel):
    """Every error of the API has this shape."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A malformed `$filter`, `$orderby` or value."},
    401: {"model": ErrorBody, "description": "No valid API token (and no signed-in session)."},
    403: {"model": ErrorBody, "description": "The token may not do this (viewer, or a browser)."},
    404: {"model": ErrorBody, "description": "No such tenant or object."},
    422: {"model": ErrorBody, "description": "A parameter or body field is invalid."},
}

CSV_RESPONSE: dict[str, Any] = {
    "content": {"text/csv": {"schema": {"type": "string"}}},
    "description": "With `format=csv`: the same records as CSV (the CLI's `--format csv`).",
}


class Format(StrEnum):
    """How a collection is answered."""

    json = "json"
    csv = "csv"


FormatParam = Annotated[
    Format,
    Query(
        description=(
            "`json` (an OData page) or `csv` (a header row, then one row per record; every "
            "record unless `$top`/`$skip` are given)."
        )
    ),
]
TenantParam = Annotated[
    str | None,
    Query(description="The tenant's name; optional when seatwise has only one tenant."),
]


class JSONAnswer(JSONResponse):
    """JSON encoded by orjson, as the CLI's `--format json` is."""

    def render(self, content: Any) -> bytes:
        """The body."""
        return orjson.dumps(content)


def write_session(engine: Engine) -> AbstractContextManager[Session]:
    """A unit of work that reads and then writes: on SQLite it takes the write lock first
    (waiting for another writer), since a transaction that has read cannot wait for it later."""
    return session_scope(engine, immediate=True)


def fail(status: int, message: str) -> NoReturn:
    """Answer `status` with `message` (the app turns it into the JSON error shape)."""
    raise HTTPException(status, message)


def filter_values(text: str | None, fields: Mapping[str, FilterKind]) -> dict[str, Any]:
    """The request's `$filter` over `fields`, or a 400 naming what is wrong with it."""
    try:
        return parse_filter_values(text, fields)
    except ValueError as exc:
        fail(400, str(exc))


def resolve_tenant(session: Session, name: str | None) -> Tenant:
    """The tenant called `name`, or the only one when `name` is None (404/400 otherwise)."""
    if name is not None:
        tenant = session.scalar(select(Tenant).where(Tenant.name == name))
        if tenant is None:
            fail(404, f"There is no tenant called {name!r}.")
        return tenant
    first_two = session.scalars(select(Tenant).order_by(Tenant.pk).limit(2)).all()
    if not first_two:
        fail(404, "There is no tenant yet: add one with `seatwise connect NAME`.")
    if len(first_two) > 1:
        fail(400, "There are several tenants: say which with ?tenant=NAME.")
    return first_two[0]


# The tenant of a request with its sync stamp, built once (they are read on every request).
_TENANT_STAMP = select(Tenant.pk, Tenant.created_at, *stamp_columns(Tenant.pk))
_ONLY_TENANT = _TENANT_STAMP.order_by(Tenant.pk).limit(2)
_NAMED_TENANT = _TENANT_STAMP.where(Tenant.name == bindparam("name"))


def synced_collection(
    request: Request,
    tenant: str | None,
    params: PageParams,
    format: Format,  # noqa: A002
    csv: tuple[Sequence[str], str],
    every: Callable[[int], Iterable[Mapping[str, Any]]],
    window: Callable[[Session, int], tuple[list[dict[str, Any]], bool]],
) -> Response:
    """A collection built from a tenant's synced data alone: CSV of `every(tenant_pk)` record
    (lazy, reading in its own unit of work while streaming) or of one `window`, or a JSON page
    of `window(session, tenant_pk)` (records, whether more follow) kept until the tenant's next
    successful sync (`web.api.answers`). `csv` is the CSV's keys and file name."""
    with web_state(request).session() as session:
        # The tenant and its stamp in one statement (this runs on every request); the stamp and
        # the page are read in one transaction, so a page kept under a stamp is its data.
        query, values = (_ONLY_TENANT, {}) if tenant is None else (_NAMED_TENANT, {"name": tenant})
        rows = session.connection().execute(query, values).all()
        if len(rows) != 1:
            resolve_tenant(session, tenant)  # says why: no such tenant, or which one
        tenant_pk, created, *stamp = rows[0]
        if format is Format.csv:
            records = every(tenant_pk) if not params.explicit else window(session, tenant_pk)[0]
            return csv_answer(records, *csv)
        key = (str(request.url), tenant_pk, created, *stamp)

        def page() -> bytes:
            records, more = window(session, tenant_pk)
            return orjson.dumps(collection(request, records, params, more=more))

        body = web_state(request).answers.fetch(key, page)
    return Response(body, media_type="application/json")


def page_answer(
    request: Request, records: Sequence[dict[str, Any]], params: PageParams
) -> Response:
    """The JSON page `$skip`/`$top` of `records`: every record from the first on, or at least
    one past the page (so that it is known whether another page follows)."""
    end = params.skip + params.top
    window = records[params.skip : end]
    return JSONAnswer(collection(request, window, params, more=end < len(records)))


def records_answer(
    request: Request,
    records: Sequence[dict[str, Any]],
    params: PageParams,
    format: Format,  # noqa: A002
    keys: Sequence[str],
    filename: str,
) -> Response:
    """`records` as the request asked: every one as CSV (no `$top`/`$skip` given), one page of
    them as CSV, or a JSON page (`page_answer`, whose rule on `records` applies to both pages)."""
    if format is not Format.csv:
        return page_answer(request, records, params)
    if params.explicit:
        records = records[params.skip : params.skip + params.top]
    return csv_answer(records, keys, filename)


def csv_rows(records: Iterable[Mapping[str, Any]], keys: Sequence[str]) -> Iterator[str]:
    """CSV text, a header row then one row per record, a chunk at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(keys)
    for count, record in enumerate(records, 1):
        writer.writerow([csv_cell(record.get(k)) for k in keys])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_answer(
    records: Iterable[Mapping[str, Any]], keys: Sequence[str], filename: str
) -> StreamingResponse:
    """A CSV download of `records` (streamed: the iterable may read the database lazily)."""
    return StreamingResponse(
        csv_rows(records, keys),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )
