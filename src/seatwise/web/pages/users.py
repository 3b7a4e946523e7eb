"""The Users pages: the DESIGN §4 view with filters, sort and paging (`/users`), its CSV export
(`/users.csv`, the same file as `seatwise users --format csv`) and one user's detail
(`/users/{id}`). The records come from `analytics.users` over `analytics.inputs.users`, as the
CLI's do; the few reads of the detail page's history are here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from seatwise import services
from seatwise.analytics.inputs import users as inputs
from seatwise.analytics.users import FIRST_KEYS, KEYS, build
from seatwise.cells import csv_cell
from seatwise.errors import UsageError
from seatwise.graph import endpoints
from seatwise.reclaim import audit
from seatwise.store.schema import UsageSnapshot, UserSummary
from seatwise.web.downloads import attachment
from seatwise.web.render import page
from seatwise.web.security import User
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants, pick_tenant

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
FILTERS = (
    "upn",
    "license",
    "guest",
    "blocked",
    "mfa",
    "inactive_days",
    "country",
    "include_unmanaged",
)
HEADINGS = {
    "upn": "UPN",
    "block_credentials": "Blocked",
    "mfa_enabled": "MFA",
    "mail_usage_mb": "Mailbox",
    "onedrive_usage_mb": "OneDrive",
    "days_since_last_activity": "Days inactive",
    "on_premises_sync": "On-premises sync",
}
# The columns shown unless the column chooser (`cols`) says otherwise, first and in this order;
# they fit 1,024 px. The rest follow in the view's order.
SHOWN = FIRST_KEYS
ORDER = (*SHOWN, *(k for k in KEYS if k not in SHOWN and k != "id"))
HISTORY_DAYS = 90
# Which usage report each column comes from: (columns, what the report is, report name).
REPORT_COLUMNS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("mail_usage_mb",), "Mailbox usage", endpoints.MAILBOX_USAGE),
    (("onedrive_usage_mb",), "OneDrive usage", endpoints.ONEDRIVE_USAGE),
    (("windows", "mac", "mobile", "web"), "Microsoft 365 Apps usage", endpoints.M365_APPS),
    (("activations",), "Office activations", endpoints.ACTIVATIONS),
    (
        ("last_used_app", "last_activity", "days_since_last_activity"),
        "Active users and email activity",
        endpoints.ACTIVE_USERS,
    ),
)


def report_windows(dates: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per group of report columns: the columns, the report, the window it covers and its
    `Report Refresh Date` (`dates`: report name → refresh date, None before the first sync)."""
    windows = []
    for keys, label, report in REPORT_COLUMNS:
        period = endpoints.ROSTER_REPORT_PERIODS.get(report, "missing")
        if period is None:
            window = "every activation to date (the report has no period)"
        elif period == "missing":
            window = "the latest activity date ever reported (and sign-ins)"
        else:
            window = f"the {endpoints.period_days(period)} days up to the report date"
        day = dates.get(report)
        windows.append(
            {
                "keys": keys,
                "columns": [heading(k) for k in keys],
                "report": label,
                "name": report,
                "window": window,
                "date": day.isoformat() if day else None,
            }
        )
    return windows


def column_notes(windows: list[dict[str, Any]]) -> dict[str, str]:
    """A column's tooltip: its report, window and report date."""
    notes = {}
    for w in windows:
        as_of = f", report date {w['date']}" if w["date"] else ", not synced yet"
        for key in w["keys"]:
            notes[key] = f"{w['report']}: {w['window']}{as_of}"
    return notes


def heading(key: str) -> str:
    """A column's heading."""
    return HEADINGS.get(key, key.replace("_", " ").capitalize())


def _yes_no(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("yes", "true", "1"):
        return True
    if value.lower() in ("no", "false", "0"):
        return False
    raise UsageError(f"{name} must be Yes or No.")


def _whole(value: str | None, name: str, minimum: int = 0, maximum: int = 36_500) -> int | None:
    if value is None or value.strip() == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"{name} must be a whole number.") from None
    if not minimum <= number <= maximum:
        raise UsageError(f"{name} must be between {minimum} and {maximum:,}.")
    return number


def query_from(params: Mapping[str, str]) -> inputs.UserQuery:
    """The Users view query of a request's parameters (empty means "any")."""
    sort = params.get("sort") or "upn"
    if sort.lstrip("-") not in inputs.SORTABLE:
        raise UsageError(f"Cannot sort by {sort!r}; sort by one of: {', '.join(KEYS)}.")
    return inputs.UserQuery(
        upn=params.get("upn") or None,
        license=params.get("license") or None,
        guest=_yes_no(params.get("guest"), "Guest"),
        blocked=_yes_no(params.get("blocked"), "Blocked"),
        mfa=_yes_no(params.get("mfa"), "MFA"),
        inactive_days=_whole(params.get("inactive_days"), "Inactive days"),
        country=params.get("country") or None,
        sort=sort.lstrip("-"),
        descending=sort.startswith("-"),
        include_unmanaged=bool(_yes_no(params.get("include_unmanaged"), "Include unmanaged")),
    )


def _kept(params: Mapping[str, str]) -> dict[str, str]:
    """The filter and sort parameters that are set (links keep them)."""
    return {k: params[k] for k in (*FILTERS, "sort", "cols") if params.get(k)}


def chosen_columns(params: Mapping[str, str]) -> set[str]:
    """The columns to show: `cols` (comma-separated keys; unknown ones ignored) or `SHOWN`;
    the UPN always, and the sorted column so that the order can be seen."""
    asked = {k for k in (params.get("cols") or "").split(",") if k in ORDER}
    shown = asked or set(SHOWN)
    shown.add("upn")
    sort = (params.get("sort") or "upn").lstrip("-")
    if sort in ORDER:
        shown.add(sort)
    return shown


def _href(path: str, params: Mapping[str, str], **changes: str | int | None) -> str:
    merged: dict[str, Any] = dict(params)
    for key, value in changes.items():
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return f"{path}?{urlencode(merged)}" if merged else path


def _countries(session: Session, tenant_pk: int) -> list[str]:
    return [
        c
        for c in session.scalars(
            select(UserSummary.country)
            .where(UserSummary.tenant_pk == tenant_pk, UserSummary.country.is_not(None))
            .distinct()
            .order_by(UserSummary.country)
        )
        if c
    ]


@router.get("/users")
def users_page(request: Request, user: User) -> Response:
    """The Users view of the chosen tenant: filters, sortable columns, 100 users a page."""
    params = dict(request.query_params)
    picked = request.query_params.getlist("col")  # the column chooser's form
    if picked:
        params["cols"] = ",".join(k for k in ORDER if k in picked)
        params.pop("col", None)
    query = query_from(params)
    number = _whole(params.get("page"), "Page", minimum=1) or 1
    kept = _kept(params)
    with web_state(request).session() as session:
        tenants = all_tenants(session)
        tenant = pick_tenant(request, session)
        context: dict[str, Any] = {"params": params, "kept": kept}
        if tenant is not None:
            names = inputs.sku_names(session, tenant.pk)
            total = inputs.count(session, tenant.pk, query)
            pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
            number = min(number, pages)
            offset = (number - 1) * PAGE_SIZE
            ids = inputs.query_ids(session, tenant.pk, query, PAGE_SIZE, offset)
            found = inputs.user_facts(
                session, tenant.pk, ids, include_unmanaged=query.include_unmanaged
            )
            records = [build(facts, names) for facts in found]
            hidden = set() if query.include_unmanaged else inputs.unmanaged_skus(session, tenant.pk)
            windows = report_windows(inputs.report_dates(session, tenant.pk))
            notes = column_notes(windows)
            sort = kept.get("sort", "upn")
            shown = chosen_columns(params)
            columns = [
                {
                    "key": key,
                    "label": "User" if key == "upn" else heading(key),
                    "href": _href(
                        "/users", kept, sort=f"-{key}" if sort == key else key, page=None
                    ),
                    "order": "asc" if sort == key else "desc" if sort == f"-{key}" else "",
                    "note": notes.get(key),
                    "shown": key in shown,
                    "default": key in SHOWN,
                }
                for key in ORDER
            ]
            context.update(
                records=records,
                columns=columns,
                total=total,
                page=number,
                pages=pages,
                first=offset + 1 if records else 0,
                last=offset + len(records),
                prev_href=_href("/users", kept, page=number - 1) if number > 1 else None,
                next_href=_href("/users", kept, page=number + 1) if number < pages else None,
                csv_href=_href("/users.csv", {**kept, "tenant": tenant.name}),
                skus=sorted(
                    {(name, part) for sku, (part, name) in names.items() if sku not in hidden}
                ),
                sorted_by=next((c for c in columns if c["order"]), None),
                reset_href=_href("/users", kept, cols=",".join(SHOWN), page=None),
                windows=windows,
                countries=_countries(session, tenant.pk),
            )
        return page(
            request, "users.html", context, user=user, tenant=tenant, tenants=tenants, title="Users"
        )


@router.get("/users.csv")
def users_csv(request: Request, user: User) -> Response:
    """Every user matching the filters, in the chosen order, as CSV (streamed)."""
    del user
    query = query_from(dict(request.query_params))
    state = web_state(request)
    with state.session() as session:
        tenant = pick_tenant(request, session)
        if tenant is None:
            raise HTTPException(404, "No tenant is connected yet.")
        tenant_pk, name = tenant.pk, tenant.name

    def rows() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(KEYS)
        with state.session() as session:
            names = inputs.sku_names(session, tenant_pk)
            for batch in inputs.iter_query_facts(session, tenant_pk, query):
                for facts in batch:
                    record = build(facts, names)
                    writer.writerow([csv_cell(record.get(k)) for k in KEYS])
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    filename = f"seatwise-users-{name}.csv"
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment(filename)},
    )


def _history(session: Session, tenant_pk: int, user_id: str) -> list[UsageSnapshot]:
    return list(
        session.scalars(
            select(UsageSnapshot)
            .where(UsageSnapshot.tenant_pk == tenant_pk, UsageSnapshot.user_id == user_id)
            .order_by(UsageSnapshot.day.desc())
            .limit(HISTORY_DAYS)
        )
    )


@router.get("/users/{user_id}")
def user_page(request: Request, user_id: str, user: User) -> Response:
    """One user: the view's fields, licences, activity per service, activations, storage and
    history (daily snapshots and the audit events about the user)."""
    with web_state(request).session() as session:
        tenants = all_tenants(session)
        tenant = pick_tenant(request, session)
        if tenant is None:
            raise HTTPException(404, "No tenant is connected yet.")
        include = bool(_yes_no(request.query_params.get("include_unmanaged"), "Include unmanaged"))
        found = inputs.user_facts(session, tenant.pk, [user_id], include_unmanaged=True)
        if not found:
            raise HTTPException(404, f"Tenant {tenant.name} has no user with id {user_id}.")
        facts = found[0]
        unmanaged = inputs.unmanaged_skus(session, tenant.pk)
        hidden = [a for a in facts.assignments if a["sku_id"] in unmanaged]
        if not include:
            facts.assignments = [a for a in facts.assignments if a["sku_id"] not in unmanaged]
        names = inputs.sku_names(session, tenant.pk)
        record = build(facts, names)
        by_service = {row["service"]: row for row in facts.activity}
        activity = []
        for service in services.SERVICES:
            row = by_service.get(service)
            if service in services.UNAVAILABLE_SERVICES or (row and not row.get("available")):
                shown = "not available"
            elif row is None:
                shown = "no data"
            else:
                shown = row["last_activity"].isoformat() if row["last_activity"] else "Never"
            activity.append({"service": service, "shown": shown, "row": row})
        licences = []
        for a in sorted(facts.assignments, key=lambda a: (a["sku_id"], a["via"])):
            part, name = names.get(a["sku_id"], (a["sku_id"], a["sku_id"]))
            licences.append({"part": part, "name": name, **a})
        events = list(audit.events(session, tenant.pk, user_id=user_id, limit=200, flat=True))
        context = {
            "record": record,
            "fields": [
                (k, heading(k), record[k]) for k in KEYS if k not in ("licenses", "activations")
            ],
            "licences": licences,
            "activity": activity,
            "activations": record["activations"],
            "history": _history(session, tenant.pk, user_id),
            "events": events,
            "windows": report_windows(inputs.report_dates(session, tenant.pk)),
            "include_unmanaged": include,
            "unmanaged_held": len(hidden),
            "toggle_href": _href(
                f"/users/{user_id}",
                {"tenant": tenant.name},
                include_unmanaged=None if include else "1",
            ),
        }
        title = record["display_name"] or record["upn"]
        return page(
            request, "user.html", context, user=user, tenant=tenant, tenants=tenants, title=title
        )
