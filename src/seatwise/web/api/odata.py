"""The OData subset the reporting API speaks, so Power BI's OData and Web connectors page
through it: `$top` (default and maximum `MAX_TOP`), `$skip`, answers `{"@odata.context",
"value": [...], "@odata.nextLink"}` where the link carries the same query with the next `$skip`.
`$filter` is resource-specific: each endpoint declares the fields it accepts and how
(`field eq 'text'`, `field eq true`, `field ge 90`, `contains(field,'text')`, joined by `and`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_TOP",
    "FilterKind",
    "Page",
    "PageParams",
    "collection",
    "page_params",
    "parse_filter_values",
]

MAX_TOP = 1000
PAGING = ("$top", "$skip")

T = TypeVar("T")

# How a `$filter` field may be compared: text equality, a boolean, an integer, an integer lower
# bound, or a case-insensitive substring.
FilterKind = Literal["text", "bool", "int", "min", "contains"]


class PageParams(BaseModel):
    """`$top` and `$skip` of a request."""

    top: int = Field(MAX_TOP, ge=1, le=MAX_TOP)
    skip: int = Field(0, ge=0)
    explicit: bool = False  # whether the caller sent `$top` or `$skip` (CSV pages only then)


async def page_params(
    request: Request,
    top: Annotated[int, Query(alias="$top", ge=1, le=MAX_TOP, description="Page size.")] = MAX_TOP,
    skip: Annotated[
        int, Query(alias="$skip", ge=0, le=2**31 - 1, description="Items to skip.")
    ] = 0,
) -> PageParams:
    """The paging query parameters (`async`: pure parsing, so it runs on the event loop
    instead of taking a trip through the thread pool)."""
    sent = "$top" in request.query_params or "$skip" in request.query_params
    return PageParams(top=top, skip=skip, explicit=sent)


class Page(BaseModel, Generic[T]):
    """An OData collection: one page of `value`, and the link to the next page when there is one."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    context: str = Field(alias="@odata.context", description="Where this collection lives.")
    value: list[T]
    next_link: str | None = Field(
        None,
        alias="@odata.nextLink",
        description="The next page (same query, next `$skip`); absent on the last page.",
    )


def collection(
    request: Request, items: Sequence[dict[str, Any]], params: PageParams, *, more: bool
) -> dict[str, Any]:
    """An OData collection answer; `more` says whether a next page exists."""
    body: dict[str, Any] = {
        "@odata.context": str(request.url.replace(query="")) + "/$metadata",
        "value": list(items),
    }
    if more:
        # Every parameter kept (repeated ones too), `$` left readable as OData links have it.
        query = [(k, v) for k, v in request.query_params.multi_items() if k not in PAGING]
        query += [("$top", str(params.top)), ("$skip", str(params.skip + params.top))]
        link = request.url.replace(query=urlencode(query, safe="$,'()"))
        body["@odata.nextLink"] = str(link)
    return body


_QUOTED = r"'(?:[^']|'')*'"
_CLAUSE = re.compile(
    rf"\s*(?:contains\(\s*(?P<cfield>\w+)\s*,\s*(?P<cvalue>{_QUOTED})\s*\)"
    rf"|(?P<field>\w+)\s+(?P<op>\w+)\s+(?P<value>{_QUOTED}|[^\s']+))\s*"
)
_AND = re.compile(r"and\s+", re.IGNORECASE)


def _unquote(text: str) -> str | None:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return None


def _clauses(text: str) -> list[tuple[str, str, str]]:
    """(field, operator, raw value) per clause of `text`."""
    found = []
    pos = 0
    while True:
        match = _CLAUSE.match(text, pos)
        if match is None:
            raise ValueError(
                f"$filter could not be read at {text[pos:][:40]!r}: write `field eq 'text'`, "
                "`field eq true`, `field ge 90` or `contains(field,'text')`, joined by `and`."
            )
        if match["cfield"]:
            found.append((match["cfield"], "contains", match["cvalue"]))
        else:
            found.append((match["field"], match["op"], match["value"]))
        pos = match.end()
        if pos == len(text):
            return found
        joined = _AND.match(text, pos)
        if joined is None:
            raise ValueError(f"$filter clauses must be joined by `and`, at {text[pos:][:40]!r}.")
        pos = joined.end()


_USAGE: dict[str, str] = {
    "text": "{name} eq 'text'",
    "bool": "{name} eq true (or false)",
    "int": "{name} eq 3 (a whole number)",
    "min": "{name} ge 90 (a whole number of 0 or more)",
    "contains": "contains({name},'text')",
}


def parse_filter_values(
    text: str | None, fields: Mapping[str, FilterKind]
) -> dict[str, str | bool | int]:
    """Read a `$filter` over `fields` (name → how it compares) into {name: value}.

    Raises ValueError with one sentence naming the clause and what it should look like.
    """
    if text is None or not text.strip():
        return {}
    found: dict[str, str | bool | int] = {}
    for name, op, raw in _clauses(text):
        kind = fields.get(name)
        if kind is None:
            raise ValueError(f"$filter cannot use {name!r}; fields: {', '.join(fields)}.")
        usage = _USAGE[kind].format(name=name)
        quoted = _unquote(raw)
        if kind in ("text", "contains"):
            wanted_op = "contains" if kind == "contains" else "eq"
            if op != wanted_op or quoted is None:
                raise ValueError(f"$filter on {name} is written {usage}.")
            found[name] = quoted
        elif kind == "bool":
            if op != "eq" or raw not in ("true", "false"):
                raise ValueError(f"$filter on {name} is written {usage}.")
            found[name] = raw == "true"
        else:
            wanted_op = "ge" if kind == "min" else "eq"
            if op != wanted_op or not raw.isascii() or not raw.isdigit() or len(raw) > 6:
                raise ValueError(f"$filter on {name} is written {usage}.")
            found[name] = int(raw)
    return found
