"""What every reporting-API endpoint shares: the `?tenant=` parameter, the answers of an entity
set (a JSON page, the CSV of the CLI's cells, `/$count`, one entity by key), the error shape in
the OpenAPI schema, and `fail`. `register` adds those routes for an entity set whose records are
built in Python; users and activity (built from synced data alone) keep their pages in
`web.api.answers` until the tenant's next sync (`synced_page`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Annotated, Any, NoReturn

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from seatwise.cells import csv_cell
from seatwise.store import session_scope
from seatwise.store.reads import stamp_columns
from seatwise.store.schema import Tenant
from seatwise.web.api.edm import EntitySet
from seatwise.web.api.odata import (
    HEADERS,
    JSON_TYPE,
    Options,
    Page,
    collection_body,
    entity_body,
    odata_json,
    options_dependency,
    run_records,
)
from seatwise.web.downloads import attachment
from seatwise.web.security import ApiPrincipal
from seatwise.web.state import web_state

__all__ = [
    "CSV_RESPONSE",
    "ERRORS",
    "JSONAnswer",
    "TenantParam",
    "collection_answer",
    "count_answer",
    "csv_answer",
    "entity_answer_model",
    "fail",
    "parse_key",
    "register",
    "resolve_tenant",
    "synced_page",
    "tenant_stamp",
    "write_session",
]


class ErrorDetail(BaseModel):
    """What went wrong, in one sentence."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="What kind of error, e.g. BadRequest, NotFound.")
    message: str


class ErrorBody(BaseModel):
    """Every error of the API has this shape (OData's)."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A malformed `$filter`, `$orderby` or value."},
    401: {"model": ErrorBody, "description": "No valid API token (and no signed-in session)."},
    403: {"model": ErrorBody, "description": "The token may not do this (viewer, or a browser)."},
    404: {"model": ErrorBody, "description": "No such tenant or object."},
    422: {"model": ErrorBody, "description": "A parameter or body field is invalid."},
    501: {"model": ErrorBody, "description": "A query option this service does not implement."},
}

CSV_RESPONSE: dict[str, Any] = {
    "content": {"text/csv": {"schema": {"type": "string"}}},
    "description": "With `$format=csv` (or `Accept: text/csv`): the same records as CSV.",
}

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


def tenant_stamp(session: Session, tenant: str | None) -> tuple[int, tuple[Any, ...]]:
    """The tenant's pk and what changes with its synced data (created, sync stamp), in one
    statement: this runs on every request."""
    query, values = (_ONLY_TENANT, {}) if tenant is None else (_NAMED_TENANT, {"name": tenant})
    rows = session.connection().execute(query, values).all()
    if len(rows) != 1:
        resolve_tenant(session, tenant)  # says why: no such tenant, or which one
    tenant_pk, *stamp = rows[0]
    return tenant_pk, tuple(stamp)


def synced_page(
    request: Request, key: Hashable, options: Options, page: Callable[[], dict[str, Any]]
) -> Response:
    """A JSON page built from synced data alone, kept under `key` (the tenant and its stamp:
    see `tenant_stamp`) until the tenant's next successful sync (`web.api.answers`)."""
    full_key = (str(request.url), options.cache_key, key)
    body = web_state(request).answers.fetch(full_key, lambda: orjson.dumps(page()))
    headers = dict(HEADERS)
    if options.page_size_asked:
        headers["Preference-Applied"] = f"odata.maxpagesize={options.page_size}"
    return Response(body, headers=headers, media_type=JSON_TYPE)


def collection_answer(
    request: Request,
    entity_set: EntitySet,
    options: Options,
    records: Iterable[dict[str, Any]],
    filename: str | None = None,
) -> Response:
    """`records` (every entity of the set, in its default order) as the request asked: a JSON
    page, or CSV of every match (of `$skip`/`$top` when given)."""
    if options.csv:
        rows, _, _ = run_records(records, entity_set, options, whole=True)
        keys = options.select or entity_set.columns
        return csv_answer(rows, keys, filename or entity_set.name)
    page, more, count = run_records(records, entity_set, options, whole=False)
    body = collection_body(request, entity_set, options, page, more=more, count=count)
    return odata_json(body, options)


def count_answer(count: int) -> Response:
    """`/$count`: the number as plain text."""
    return Response(str(count), media_type="text/plain", headers=dict(HEADERS))


def parse_key(text: str, entity_set: EntitySet) -> dict[str, Any]:
    """A key in parentheses (`'id'`, `42`, or `name='x',other=3`) as {property: value}; 400 when
    it is not one."""
    parts: list[str] = []
    current, quoted, index = "", False, 0
    while index < len(text):
        char = text[index]
        if char == "'":
            if quoted and text[index + 1 : index + 2] == "'":
                current += "''"
                index += 2
                continue
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
        index += 1
    parts.append(current)
    if quoted:
        fail(400, f"The key ({text}) has an unclosed quote.")
    named = [p.partition("=") for p in parts]
    if len(parts) == 1 and not named[0][1]:
        named = [(entity_set.key[0], "=", parts[0])]
    values: dict[str, Any] = {}
    for name, sign, raw in named:
        name, raw = name.strip(), raw.strip()
        prop = entity_set.props.get(name)
        if not sign or name not in entity_set.key or prop is None:
            fail(400, f"The key of {entity_set.name} is ({', '.join(entity_set.key)}).")
        if len(raw) >= 2 and raw[0] == raw[-1] == "'" and prop.type != "Edm.Int32":
            values[name] = raw[1:-1].replace("''", "'")
        elif prop.type == "Edm.Int32" and raw.isascii() and raw.isdigit() and len(raw) < 10:
            values[name] = int(raw)
        else:
            fail(400, f"The key value {raw!r} of {entity_set.name} is not a {prop.type}.")
    if set(values) != set(entity_set.key):
        fail(400, f"The key of {entity_set.name} is ({', '.join(entity_set.key)}).")
    return values


def register(
    router: APIRouter,
    entity_set: EntitySet,
    load: Callable[[Request, str | None], Iterable[dict[str, Any]]],
    *,
    summary: str,
    description: str,
    paths: Sequence[str] = (),
) -> None:
    """The routes of an entity set built in Python: the collection (at `/{name}` and the older
    `paths`), `/{name}/$count` and `/{name}(key)`. `load(request, tenant)` gives every record
    of the set in its default order."""
    model: Any = entity_set.model
    page_model: Any = create_model(f"{entity_set.type_name}Page", __base__=Page[model])
    entity_model = entity_answer_model(entity_set)
    # Defaults, not `Annotated` aliases: these annotations are read from the module's names.
    parsed = Depends(options_dependency(entity_set))

    def collection(
        request: Request,
        _principal: ApiPrincipal,
        tenant: TenantParam = None,
        options: Options = parsed,
    ) -> Response:
        return collection_answer(request, entity_set, options, load(request, tenant))

    def count(
        request: Request,
        _principal: ApiPrincipal,
        tenant: TenantParam = None,
        options: Options = parsed,
    ) -> Response:
        matched, _, _ = run_records(load(request, tenant), entity_set, options, whole=True)
        return count_answer(len(matched))

    def entity(
        request: Request,
        key: str,
        _principal: ApiPrincipal,
        tenant: TenantParam = None,
        options: Options = parsed,
    ) -> Response:
        wanted = parse_key(key, entity_set)
        for record in load(request, tenant):
            if all(record.get(k) == v for k, v in wanted.items()):
                return odata_json(entity_body(request, entity_set, options, record))
        fail(404, f"There is no {entity_set.type_name.lower()} ({key}).")

    name = entity_set.name
    for index, path in enumerate((f"/{name}", *paths)):
        router.add_api_route(
            path,
            collection,
            methods=["GET"],
            summary=summary,
            description=description,
            response_model=page_model,
            response_class=JSONAnswer,
            responses={**ERRORS, 200: CSV_RESPONSE},
            include_in_schema=index == 0,
            name=f"{name}_collection{index}",
        )
    router.add_api_route(
        f"/{name}/$count",
        count,
        methods=["GET"],
        summary=f"{summary}: how many",
        response_class=Response,
        responses={**ERRORS, 200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
        name=f"{name}_count",
    )
    router.add_api_route(
        f"/{name}({{key}})",
        entity,
        methods=["GET"],
        summary=f"One of {summary.lower()}, by key",
        response_model=entity_model,
        response_class=JSONAnswer,
        responses=ERRORS,
        name=f"{name}_entity",
    )


def entity_answer_model(entity_set: EntitySet) -> Any:
    """The OpenAPI model of one entity answer: the record and its `@odata.context`."""
    return create_model(
        f"{entity_set.type_name}Entity",
        __base__=entity_set.model,
        context=(str, Field(alias="@odata.context", description="`{root}/$metadata#set/$entity`.")),
    )


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
        headers={"Content-Disposition": attachment(f"{filename}.csv"), **HEADERS},
    )
