"""The OData subset the reporting API speaks, so Power BI's OData and Web connectors page
through it: `$top` (default and maximum `MAX_TOP`), `$skip`, answers `{"@odata.context",
"value": [...], "@odata.nextLink"}` where the link carries the same query with the next `$skip`.
`$filter` is resource-specific (each endpoint documents the `eq` comparisons it accepts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, Field

__all__ = ["MAX_TOP", "PageParams", "collection", "page_params", "parse_filter"]

MAX_TOP = 1000


class PageParams(BaseModel):
    """`$top` and `$skip` of a request."""

    top: int = Field(MAX_TOP, ge=1, le=MAX_TOP)
    skip: int = Field(0, ge=0)


def page_params(
    top: Annotated[int, Query(alias="$top", ge=1, le=MAX_TOP, description="Page size.")] = MAX_TOP,
    skip: Annotated[int, Query(alias="$skip", ge=0, description="Items to skip.")] = 0,
) -> PageParams:
    """The paging query parameters."""
    return PageParams(top=top, skip=skip)


def collection(
    request: Request, items: Sequence[dict[str, Any]], params: PageParams, *, more: bool
) -> dict[str, Any]:
    """An OData collection answer; `more` says whether a next page exists."""
    body: dict[str, Any] = {
        "@odata.context": str(request.url.replace(query="")) + "/$metadata",
        "value": list(items),
    }
    if more:
        query = dict(request.query_params)
        query["$top"] = str(params.top)
        query["$skip"] = str(params.skip + params.top)
        body["@odata.nextLink"] = str(request.url.include_query_params(**query))
    return body


def parse_filter(text: str | None, allowed: Sequence[str]) -> dict[str, str]:
    """`field eq 'value' and other eq true` → {field: value}; ValueError names what is wrong."""
    if not text:
        return {}
    found: dict[str, str] = {}
    for clause in text.split(" and "):
        parts = clause.strip().split(" ", 2)
        if len(parts) != 3 or parts[1] != "eq":
            raise ValueError(f"$filter supports only `field eq value` joined by `and`: {clause!r}")
        name, _, value = parts
        if name not in allowed:
            raise ValueError(f"$filter cannot use {name!r}; fields: {', '.join(allowed)}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1].replace("''", "'")
        found[name] = value
    return found
