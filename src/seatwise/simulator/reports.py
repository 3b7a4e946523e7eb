"""Microsoft 365 usage report routes: `GET /{v1.0|beta}/reports/getX(period='D7' | date=…)`,
the CSV flow (302 to a short-lived download on another host, fetched without a token), beta
JSON paging, per-report throttling and `If-None-Match`. Rows come from `report_rows`.

Download endpoint `GET /data/download/{token}` (not Graph): 200 `application/octet-stream`; a
request that carries `Authorization` gets 401 with an Azure-Storage-style XML error body, an
unknown link 404 and an expired one 410 (Microsoft documents only "valid a few minutes").
"""

from __future__ import annotations

import asyncio
import csv
import gc
import hashlib
import io
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seatwise.simulator import query
from seatwise.simulator.context import Sim, host_of, sim_of
from seatwise.simulator.odata import GraphError, json_response
from seatwise.simulator.report_rows import (
    PERIODS,
    SPECS,
    Facts,
    ReportSpec,
    Row,
    Window,
    build,
)
from seatwise.simulator.tenant import Tenant

# Graph's report throttling (graph-facts §8); `Options` may override with the same names.
REPORT_CSV_LIMIT = 14
REPORT_JSON_LIMIT = 100
REPORT_THROTTLE_WINDOW_S = 600.0
DOWNLOAD_TTL_S = 300.0
JSON_PAGE_SIZE = 200  # default and maximum `$top` of beta JSON reports
# Graph answers "Only support data for the past 28 days" for older `date=` values [community],
# although the docs say 30.
DATE_WINDOW_DAYS = 28
CACHED_REPORTS = 24
CACHED_DAYS = 4

_BY_LOWER = {name.lower(): spec for name, spec in SPECS.items()}
_CALL = re.compile(r"^(?P<name>[A-Za-z0-9_]+)(?:\((?P<args>[^()]*)\))?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_THROTTLE_MESSAGE = (
    "Too many requests. Please retry after the time specified in the Retry-After header."
)


def _bad(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def _no_segment(segment: str) -> GraphError:
    return _bad(f"Resource not found for the segment '{segment}'.")


# -- state kept per tenant ----------------------------------------------------------------------


class Limiter:
    """Sliding-window request log per key; only admitted requests count."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, ...], deque[float]] = {}

    def admit(self, key: tuple[str, ...], limit: int, window_s: float, now: float) -> float | None:
        """None if the request may go ahead, else the seconds until a slot frees."""
        log = self._calls.setdefault(key, deque())
        while log and log[0] <= now - window_s:
            log.popleft()
        if len(log) >= limit:
            return max(log[0] + window_s - now, 0.001)
        log.append(now)
        return None


@dataclass
class Rendered:
    """A report's rows and, once asked for, its CSV bytes and JSON items."""

    rows: list[Row]
    csv: bytes | None = None
    etag: str = ""
    items: list[dict[str, Any]] | None = None


@dataclass
class ReportState:
    """Throttle log and report caches of one tenant."""

    limiter: Limiter = field(default_factory=Limiter)
    lock: threading.Lock = field(default_factory=threading.Lock)  # one build at a time
    stamp: tuple[Any, ...] = ()
    reports: OrderedDict[tuple[Any, ...], Rendered] = field(default_factory=OrderedDict)
    facts: OrderedDict[date, Facts] = field(default_factory=OrderedDict)

    def rendered(self, tenant: Tenant, spec: ReportSpec, window: Window) -> Rendered:
        """The report, built once per refresh date and concealment setting: like Microsoft's,
        a day's report is a snapshot, and the tenant's changes show in the next day's."""
        stamp = (id(tenant), tenant.refresh_date)
        if stamp != self.stamp:
            self.stamp = stamp
            self.reports.clear()
            self.facts.clear()
        key = (spec.name, window, tenant.options.concealed_names)
        found = self.reports.get(key)
        if found is not None:
            self.reports.move_to_end(key)
            return found
        facts = self.facts.get(window.as_of)
        if facts is None:
            facts = self.facts[window.as_of] = Facts(tenant, window.as_of)
            if len(self.facts) > CACHED_DAYS:
                self.facts.popitem(last=False)
        with _gc_paused():
            found = self.reports[key] = Rendered(build(spec, facts, window))
        if len(self.reports) > CACHED_REPORTS:
            self.reports.popitem(last=False)
        return found


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic collector: building 100k rows allocates millions of tuples that are not
    garbage, and the collections they trigger cost more than the build itself."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _state(sim: Sim) -> ReportState:
    if sim.reports is None:
        sim.reports = ReportState()
    return sim.reports


@dataclass(frozen=True, slots=True)
class Download:
    """A pre-authenticated report download."""

    body: bytes
    etag: str
    expires: float  # time.monotonic()


# -- parsing ------------------------------------------------------------------------------------


def parse_call(call: str) -> tuple[ReportSpec, dict[str, str]]:
    """`getX(period='D7')` -> (spec, {"period": "'D7'"}); unknown names and parameter sets
    that match no overload are Graph's "Resource not found for the segment"."""
    match = _CALL.match(call)
    if match is None:
        raise _no_segment(re.split(r"[(/]", call, maxsplit=1)[0])
    name, raw_args = match["name"], match["args"]
    spec = _BY_LOWER.get(name.lower())
    if spec is None:
        raise _no_segment(name)
    args: dict[str, str] = {}
    for part in (raw_args or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or key.strip().lower() in args:
            raise _no_segment(name)
        args[key.strip().lower()] = value.strip()
    allowed: list[set[str]] = [] if spec.period or spec.date else [set()]
    allowed += [{"period"}] if spec.period else []
    allowed += [{"date"}] if spec.date else []
    if set(args) not in allowed:
        raise _no_segment(name)
    return spec, args


def parse_window(tenant: Tenant, args: dict[str, str]) -> Window:
    """The report window for the parsed parameters (400 for bad values)."""
    refresh = tenant.refresh_date
    if "period" in args:
        raw = args["period"]
        value = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == "'" else None
        days = PERIODS.get((value or "").upper())
        if days is None:
            raise _bad(
                f"Invalid value for period: {raw}. The value must be one of 'D7', 'D30', 'D90', "
                "'D180'."
            )
        return Window.for_period(refresh, days)
    if "date" in args:
        raw = args["date"]
        text = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == "'" else raw
        try:
            if not _DATE.match(text):
                raise ValueError
            day = date.fromisoformat(text)
        except ValueError:
            raise _bad(
                f"The value '{raw}' is not a valid date. Use the format YYYY-MM-DD."
            ) from None
        if day > tenant.today or day < tenant.today - timedelta(days=DATE_WINDOW_DAYS):
            raise _bad(
                f"Invalid date value specified: {text}. Only support data for the past "
                f"{DATE_WINDOW_DAYS} days.",
                code="InvalidArgument",
            )
        return Window.for_date(day, refresh)
    return Window(refresh, refresh, 0)


def _wants_json(request: Request, spec: ReportSpec, version: str) -> bool:
    raw = next((v for k, v in request.query_params.items() if k.lower() == "$format"), None)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value not in ("text/csv", "application/json"):
        raise _bad(f"Invalid $format value '{raw}'. Use text/csv or application/json.")
    if version == "v1.0" and spec.name != "getM365AppUserDetail":
        return False  # v1.0 documents only the CSV flow for the other reports
    return value == "application/json"


def _param(request: Request, name: str) -> str | None:
    return next((v for k, v in request.query_params.items() if k.lower() == name), None)


# -- responses ----------------------------------------------------------------------------------


def _throttle(sim: Sim, client_id: str, spec: ReportSpec, json: bool) -> None:
    options = sim.tenant.options
    if not getattr(options, "report_throttle", True):
        return
    if json:
        limit = int(getattr(options, "report_json_limit", REPORT_JSON_LIMIT))
    else:
        limit = int(getattr(options, "report_csv_limit", REPORT_CSV_LIMIT))
    window_s = float(getattr(options, "report_throttle_window_s", REPORT_THROTTLE_WINDOW_S))
    key = (client_id, spec.name, "json" if json else "csv")
    wait = _state(sim).limiter.admit(key, limit, window_s, time.monotonic())
    if wait is not None:
        text = f"{wait:.3f}".rstrip("0").rstrip(".")
        raise GraphError(429, "TooManyRequests", _THROTTLE_MESSAGE, {"Retry-After": text})


def csv_rows(spec: ReportSpec, rows: list[Row]) -> list[Row]:
    """Rows ready for `csv.writer`, which writes None as an empty cell, dates as YYYY-MM-DD and
    booleans as True/False; the app usage report says Yes/No instead."""
    if not spec.yes_no:
        return rows
    return [
        tuple(("Yes" if v else "No") if v.__class__ is bool else v for v in row) for row in rows
    ]


def json_items(spec: ReportSpec, rows: list[Row]) -> list[dict[str, Any]]:
    """Rows as beta JSON items (dates stay `date`; orjson writes them as YYYY-MM-DD)."""
    names = spec.json_names
    if spec.name == "getM365AppUserDetail":
        return [
            {
                **dict(zip(names[:4], row[:4], strict=True)),
                "details": [dict(zip(names[4:], row[4:], strict=True))],
            }
            for row in rows
        ]
    if spec.name == "getOffice365ActivationsUserDetail":
        grouped: dict[str, dict[str, Any]] = {}
        for row in rows:
            item = grouped.get(row[1])
            if item is None:
                item = grouped[row[1]] = {
                    **dict(zip(names[:3], row[:3], strict=True)),
                    "userActivationCounts": [],
                }
            item["userActivationCounts"].append(dict(zip(names[3:], row[3:], strict=True)))
        return list(grouped.values())
    return [dict(zip(names, row, strict=True)) for row in rows]


def render_csv(spec: ReportSpec, rows: list[Row]) -> bytes:
    """UTF-8 with BOM, Microsoft's header line, CRLF line ends, minimal quoting."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(spec.header)
    writer.writerows(csv_rows(spec, rows))
    return buffer.getvalue().encode("utf-8")


def _download_location(request: Request, token: str) -> str:
    url = request.url
    host = "127.0.0.1" if url.hostname == "localhost" else "localhost"
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{host}{port}/data/download/{token}"


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _prepared(sim: Sim, spec: ReportSpec, window: Window, wants_json: bool) -> Rendered:
    """The report with its CSV (or JSON items) made, one report at a time."""
    state = _state(sim)
    with state.lock:
        rendered = state.rendered(sim.tenant, spec, window)
        if wants_json and rendered.items is None:
            with _gc_paused():
                rendered.items = json_items(spec, rendered.rows)
        if not wants_json and rendered.csv is None:
            with _gc_paused():
                rendered.csv = render_csv(spec, rendered.rows)
            rendered.etag = f'"{hashlib.sha256(rendered.csv).hexdigest()[:32]}"'
    return rendered


# The reports a sync reads, in the windows it asks for: like Microsoft's, made ready before
# anyone asks (at start-up and when the simulated day moves on), so that a client's timings do
# not include the simulator building them.
READY: tuple[tuple[str, str | None], ...] = (
    ("getOffice365ActiveUserDetail", "D7"),
    ("getEmailActivityUserDetail", "D7"),
    ("getMailboxUsageDetail", "D90"),
    ("getOneDriveUsageAccountDetail", "D90"),
    ("getM365AppUserDetail", "D90"),
    ("getOffice365ActivationsUserDetail", None),
)


def warm(sim: Sim) -> None:
    """Build the `READY` reports' CSV files of the tenant's current refresh date."""
    for name, period in READY:
        args = {"period": f"'{period}'"} if period else {}
        _prepared(sim, SPECS[name], parse_window(sim.tenant, args), wants_json=False)


def _csv_response(sim: Sim, request: Request, rendered: Rendered) -> Response:
    assert rendered.csv is not None  # made by _prepared
    if _etag_matches(request.headers.get("if-none-match"), rendered.etag):
        return Response(status_code=304, headers={"ETag": rendered.etag})
    now = time.monotonic()
    ttl = float(getattr(sim.tenant.options, "download_ttl_s", DOWNLOAD_TTL_S))
    stale = [
        k for k, v in sim.downloads.items() if isinstance(v, Download) and v.expires < now - 3600
    ]
    for key in stale:
        del sim.downloads[key]
    token = secrets.token_urlsafe(24)
    sim.downloads[token] = Download(rendered.csv, rendered.etag, now + ttl)
    return Response(
        status_code=302,
        media_type="text/plain",
        headers={"Location": _download_location(request, token), "ETag": rendered.etag},
    )


def _json_response(request: Request, rendered: Rendered, spec: ReportSpec, call: str) -> Response:
    items = rendered.items
    assert items is not None  # made by _prepared
    raw_top = _param(request, "$top")
    if raw_top is None:
        top = JSON_PAGE_SIZE
    elif raw_top.isdigit() and int(raw_top) > 0:
        top = min(int(raw_top), JSON_PAGE_SIZE)
    else:
        raise _bad(f"Invalid value '{raw_top}' for query option $top.")
    salt = hashlib.sha256(call.encode()).hexdigest()[:12]
    token = _param(request, "$skiptoken")
    start = query.decode_skiptoken(token, salt) if token is not None else 0
    version = request.url.path.split("/")[1]
    root = f"{request.url.scheme}://{request.url.netloc}/{version}"
    body: dict[str, Any] = {
        "@odata.context": f"{root}/$metadata#Collection(microsoft.graph.{spec.odata_type})",
        "value": items[start : start + top],
    }
    if start + top < len(items):
        body["@odata.nextLink"] = query.next_link(
            f"{root}/reports/{call}",
            request.query_params,
            "$skiptoken",
            query.encode_skiptoken(start + top, salt),
        )
    return json_response(body)


async def report(request: Request) -> Response:
    """`GET /{version}/reports/{function(args)}` for the six user-detail reports."""
    sim = sim_of(request)
    grant = sim.authorize(request, "reports")
    call = request.path_params["call"]
    spec, args = parse_call(call)
    sim.count(f"report:{spec.name}")
    version = request.url.path.split("/")[1]
    wants_json = _wants_json(request, spec, version)
    _throttle(sim, grant.client_id, spec, wants_json)
    window = parse_window(sim.tenant, args)
    # Calls per report and parameter too ("report:getMailboxUsageDetail(period=D90)"), so a
    # test can tell which window a client asked for.
    asked = ",".join(f"{k}={v.strip(chr(39)).upper()}" for k, v in sorted(args.items()))
    sim.count(f"report:{spec.name}({asked})")
    # Built on a worker thread: a 100k-row report takes seconds, and Graph answers other calls
    # meanwhile.
    rendered = await asyncio.to_thread(_prepared, sim, spec, window, wants_json)
    if wants_json:
        return _json_response(request, rendered, spec, call)
    return _csv_response(sim, request, rendered)


def _storage_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}\nRequestId:{secrets.token_hex(16)}"
        f"</Message></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


async def download(request: Request) -> Response:
    """`GET /data/download/{token}`: the CSV, only without an `Authorization` header."""
    host = host_of(request)
    token = request.path_params["token"]
    sim = next((s for s in host.sims if token in s.downloads), host.default)
    sim.count("report:download")
    if "authorization" in request.headers:
        return _storage_error(
            401,
            "AuthenticationFailed",
            "Server failed to authenticate the request. The pre-authenticated URL must be "
            "requested without an Authorization header.",
        )
    item = sim.downloads.get(token)
    if not isinstance(item, Download):
        return _storage_error(404, "ResourceNotFound", "The specified resource does not exist.")
    if time.monotonic() >= item.expires:
        return _storage_error(410, "LinkExpired", "The download link has expired.")
    return Response(item.body, media_type="application/octet-stream", headers={"ETag": item.etag})


def routes() -> list[Route]:
    """Report functions under `/v1.0` and `/beta`, plus the download endpoint."""
    result = [
        Route(f"/{version}/reports/{{call:path}}", report, methods=["GET"])
        for version in ("v1.0", "beta")
    ]
    result.append(Route("/data/download/{token}", download, methods=["GET"]))
    return result
