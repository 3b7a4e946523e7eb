"""The OData v4 protocol of the reporting API (JSON, minimal metadata): the system query options
of a request (`$filter`, `$select`, `$orderby`, `$top`, `$skip`, `$count`, `$format`, and the
`Prefer: odata.maxpagesize` header), collection and entity answers with `@odata.context`,
`@odata.count` and server-driven paging through `@odata.nextLink`, and the response headers.

A page holds at most `MAX_PAGE` entities (fewer with `odata.maxpagesize`); `$top` bounds the
whole answer, so `$top=5000` comes as five pages. Options this service does not implement
(`$expand`, `$search`, `$apply`...) answer 501, unknown `$` options 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

import orjson
from fastapi import HTTPException, Query, Request
from fastapi.responses import Response
from odata_query import ast
from pydantic import BaseModel, ConfigDict, Field

from seatwise.web.api.edm import EntitySet
from seatwise.web.api.filters import (
    FilterError,
    Unsupported,
    check_names,
    order_records,
    parse_filter,
    parse_orderby,
    predicate,
)

__all__ = [
    "HEADERS",
    "JSON_TYPE",
    "MAX_PAGE",
    "Options",
    "Page",
    "collection_body",
    "context_url",
    "entity_body",
    "odata_json",
    "options_dependency",
    "run_records",
    "service_root",
]

MAX_PAGE = 1000
MAX_INT = 2**31 - 1
JSON_TYPE = "application/json;odata.metadata=minimal;IEEE754Compatible=true"
HEADERS = {"OData-Version": "4.0"}
_UNSUPPORTED = (
    "$expand",
    "$search",
    "$apply",
    "$compute",
    "$levels",
    "$skiptoken",
    "$deltatoken",
    "$index",
    "$schemaversion",
)
_KNOWN = ("$filter", "$select", "$orderby", "$top", "$skip", "$count", "$format")
_PAGE_SIZE = re.compile(r"(?:^|[,;\s])odata\.maxpagesize\s*=\s*(\d{1,9})", re.IGNORECASE)

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """An OData collection: one page of `value`, the count when asked, and the link to the next
    page when there is one."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    context: str = Field(alias="@odata.context", description="`{root}/$metadata#set`.")
    count: int | None = Field(
        None, alias="@odata.count", description="With `$count=true`: every match, all pages."
    )
    value: list[T]
    next_link: str | None = Field(
        None,
        alias="@odata.nextLink",
        description="The next page (same query, next `$skip`); absent on the last page.",
    )


@dataclass(frozen=True)
class Options:
    """The system query options of one request, checked against its entity set."""

    filter: ast._Node | None = None
    filter_text: str | None = None
    select: tuple[str, ...] | None = None
    orderby: tuple[tuple[str, bool], ...] = ()
    top: int | None = None
    skip: int = 0
    count: bool = False
    page_size: int = MAX_PAGE
    page_size_asked: bool = False
    csv: bool = False

    @property
    def limit(self) -> int:
        """How many entities this page holds at most."""
        return self.page_size if self.top is None else min(self.page_size, self.top)

    @property
    def explicit(self) -> bool:
        """Whether `$top` or `$skip` was sent (a CSV answer is every row otherwise)."""
        return self.top is not None or self.skip > 0

    def more(self, returned: int, exhausted: bool) -> bool:
        """Whether a next page follows one of `returned` entities (`exhausted`: none left)."""
        if exhausted:
            return False
        return self.top is None or returned < self.top

    def project(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with the `$select`ed properties only."""
        if self.select is None:
            return record
        return {k: record[k] for k in self.select if k in record}

    @property
    def cache_key(self) -> tuple[Any, ...]:
        """What besides the URL makes answers differ."""
        return (self.page_size, self.csv)


def _fail(status: int, message: str) -> None:
    raise HTTPException(status, message)


def _wants_csv(request: Request, fmt: str | None, legacy: str | None) -> bool:
    for value in (fmt, legacy):
        if value is None:
            continue
        kind = value.split(";", 1)[0].strip().lower()
        if kind in ("csv", "text/csv"):
            return True
        if kind not in ("json", "application/json"):
            _fail(400, f"$format is json or csv, not {value!r}.")
        return False
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _page_size(request: Request) -> tuple[int, bool]:
    found = _PAGE_SIZE.search(request.headers.get("prefer", ""))
    if found is None:
        return MAX_PAGE, False
    asked = int(found[1])
    return max(1, min(asked, MAX_PAGE)), True


def parse_options(
    request: Request,
    entity_set: EntitySet,
    *,
    filter_text: str | None = None,
    select: str | None = None,
    orderby: str | None = None,
    top: int | None = None,
    skip: int | None = None,
    count: bool | None = None,
    fmt: str | None = None,
    legacy_format: str | None = None,
    rewrite: Callable[[ast._Node], ast._Node] | None = None,
) -> Options:
    """The request's options for `entity_set`; 400 or 501 with one sentence when one is not
    valid or not implemented."""
    for name in request.query_params:
        if name.startswith("$") and name not in _KNOWN:
            if name in _UNSUPPORTED:
                _fail(501, f"{name} is not supported by this service.")
            _fail(400, f"Unknown query option {name!r}; options: {', '.join(_KNOWN)}.")
    props = entity_set.props
    tree = None
    try:
        if filter_text is not None and filter_text.strip():
            tree = parse_filter(filter_text)
            if rewrite is not None:
                tree = rewrite(tree)
            try:  # names and types checked now, before any data is read
                predicate(tree, props)
            except Unsupported:
                check_names(tree, props)
                raise
        keys = tuple(parse_orderby(orderby, props)) if orderby and orderby.strip() else ()
    except FilterError as exc:
        _fail(exc.status, str(exc))
    chosen = None
    if select is not None and select.strip() and select.strip() != "*":
        names = [n.strip() for n in select.split(",")]
        unknown = [n for n in names if n not in props]
        if unknown:
            _fail(400, f"$select names no property {unknown[0]!r}; properties: {', '.join(props)}.")
        chosen = tuple(n for n in props if n in names)
    size, asked = _page_size(request)
    return Options(
        filter=tree,
        filter_text=filter_text,
        select=chosen,
        orderby=keys,
        top=top,
        skip=skip or 0,
        count=bool(count),
        page_size=size,
        page_size_asked=asked,
        csv=_wants_csv(request, fmt, legacy_format),
    )


FilterParam = Annotated[
    str | None,
    Query(
        alias="$filter",
        description=(
            "OData v4 `$filter`: `eq ne gt ge lt le`, `and or not`, parentheses, `in`, "
            "`contains startswith endswith tolower toupper trim length year month day`, `null`, "
            "date and timestamp literals, `any` over collections."
        ),
    ),
]
SelectParam = Annotated[
    str | None, Query(alias="$select", description="Properties to answer, comma-separated.")
]
OrderParam = Annotated[
    str | None,
    Query(alias="$orderby", description="`property [asc|desc]`, comma-separated, nulls last."),
]
TopParam = Annotated[
    int | None, Query(alias="$top", ge=0, le=MAX_INT, description="At most this many entities.")
]
SkipParam = Annotated[
    int | None, Query(alias="$skip", ge=0, le=MAX_INT, description="Skip this many entities.")
]
CountParam = Annotated[
    bool | None, Query(alias="$count", description="`true`: add `@odata.count`.")
]
FormatOption = Annotated[
    str | None, Query(alias="$format", description="`json` (default) or `csv`.")
]
LegacyFormat = Annotated[str | None, Query(alias="format", description="The same as `$format`.")]


def options_dependency(
    entity_set: EntitySet, rewrite: Callable[[ast._Node], ast._Node] | None = None
) -> Callable[..., Any]:
    """A FastAPI dependency giving the `Options` of a request for `entity_set` (`async`: pure
    parsing, it runs on the event loop)."""

    async def dependency(
        request: Request,
        filter_text: FilterParam = None,
        select: SelectParam = None,
        orderby: OrderParam = None,
        top: TopParam = None,
        skip: SkipParam = None,
        count: CountParam = None,
        fmt: FormatOption = None,
        legacy_format: LegacyFormat = None,
    ) -> Options:
        return parse_options(
            request,
            entity_set,
            filter_text=filter_text,
            select=select,
            orderby=orderby,
            top=top,
            skip=skip,
            count=count,
            fmt=fmt,
            legacy_format=legacy_format,
            rewrite=rewrite,
        )

    return dependency


def service_root(request: Request) -> str:
    """The service root URL, `.../api/v1`, as the client asked for it."""
    return str(request.base_url).rstrip("/") + "/api/v1"


def context_url(
    request: Request, entity_set: EntitySet, options: Options | None, *, entity: bool = False
) -> str:
    """`@odata.context`: `{root}/$metadata#set`, with the `$select`ed properties and `/$entity`."""
    selected = f"({','.join(options.select)})" if options and options.select else ""
    suffix = "/$entity" if entity else ""
    return f"{service_root(request)}/$metadata#{entity_set.name}{selected}{suffix}"


def _next_link(request: Request, options: Options, returned: int) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("$top", "$skip")]
    query.append(("$skip", str(options.skip + returned)))
    if options.top is not None:
        query.append(("$top", str(options.top - returned)))
    return str(request.url.replace(query=urlencode(query, safe="$,'()/:")))


def collection_body(
    request: Request,
    entity_set: EntitySet,
    options: Options,
    records: Sequence[dict[str, Any]],
    *,
    more: bool,
    count: int | None = None,
) -> dict[str, Any]:
    """An OData collection answer of one page of `records` (projected by `$select` here)."""
    body: dict[str, Any] = {"@odata.context": context_url(request, entity_set, options)}
    if count is not None:
        body["@odata.count"] = count
    body["value"] = [options.project(r) for r in records]
    if more:
        body["@odata.nextLink"] = _next_link(request, options, len(records))
    return body


def entity_body(
    request: Request, entity_set: EntitySet, options: Options | None, record: dict[str, Any]
) -> dict[str, Any]:
    """One entity with its `@odata.context`."""
    shown = options.project(record) if options else record
    return {"@odata.context": context_url(request, entity_set, options, entity=True), **shown}


def odata_json(body: Any, options: Options | None = None, status: int = 200) -> Response:
    """A JSON answer with OData's headers (orjson, as the CLI's `--format json`)."""
    headers = dict(HEADERS)
    if options is not None and options.page_size_asked:
        headers["Preference-Applied"] = f"odata.maxpagesize={options.page_size}"
    return Response(orjson.dumps(body), status, headers=headers, media_type=JSON_TYPE)


def run_records(
    records: Iterable[dict[str, Any]], entity_set: EntitySet, options: Options, *, whole: bool
) -> tuple[list[dict[str, Any]], bool, int | None]:
    """`$filter`, `$orderby`, `$count`, `$skip` and the page (`whole`: every row from `$skip`
    up to `$top`) over records in Python: (page, whether more follow, count or None). Records
    are read lazily when neither an order nor a count needs them all."""
    rows: Iterable[dict[str, Any]] = records
    if options.filter is not None:
        try:
            test = predicate(options.filter, entity_set.props)
        except FilterError as exc:
            _fail(exc.status, str(exc))
        rows = filter(test, rows)
    if options.orderby:
        rows = order_records(list(rows), options.orderby, entity_set.props)
    count = None
    if options.count:
        rows = list(rows)
        count = len(rows)
    if whole:
        end = None if options.top is None else options.skip + options.top
        return list(islice(rows, options.skip, end)), False, count
    window = list(islice(rows, options.skip, options.skip + options.limit + 1))
    more = options.more(min(len(window), options.limit), len(window) <= options.limit)
    return window[: options.limit], more, count
