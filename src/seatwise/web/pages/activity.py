"""Activity: each user's last activity in the chosen services (as `seatwise activity`), paged on
the server, the per-service distribution (as `--summary`) as a chart, and License
Differentiation (as `--differentiation`): per licence, how many holders use each service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from seatwise import services
from seatwise.analytics import activity as view
from seatwise.analytics.inputs import activity as inputs
from seatwise.store.schema import Tenant
from seatwise.store.schema import User as UserRow
from seatwise.web import charts
from seatwise.web.render import page
from seatwise.web.security import User
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants, pick_tenant

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
# The distribution's segments: (label, the summary count, minus this count or None).
BANDS: tuple[tuple[str, str, str | None], ...] = (
    ("Active ≤ 7 days", "active_7d", None),
    ("8–30 days", "active_30d", "active_7d"),
    ("31–90 days", "active_90d", "active_30d"),
    ("Inactive > 90 days", "inactive", None),
    ("Never", "never", None),
)


def _band(record: dict[str, Any], key: str, minus: str | None) -> float:
    return float(record[key] - (record[minus] if minus else 0))


def user_page(
    session: Session,
    tenant_pk: int,
    selected: Sequence[str],
    number: int,
    include_unmanaged: bool = False,
) -> tuple[int, list[dict[str, Any]]]:
    """How many live users there are, and the records of page `number` (1-based, by UPN)."""
    live = (UserRow.tenant_pk == tenant_pk) & UserRow.deleted_at.is_(None)
    total = int(session.scalar(select(func.count()).select_from(UserRow).where(live)) or 0)
    users = (
        session.connection()
        .execute(
            select(UserRow.id, UserRow.upn, UserRow.display_name)
            .where(live)
            .order_by(UserRow.upn, UserRow.id)
            .limit(PAGE_SIZE)
            .offset((number - 1) * PAGE_SIZE)
        )
        .all()
    )
    if not users:
        return total, []
    wanted = sorted(set(selected) | set(services.REPORT_SERVICES))
    facts = inputs.load_batch(
        session.connection(),
        tenant_pk,
        users,
        inputs.catalog(session, tenant_pk, include_unmanaged),
        wanted,
    )
    return total, [view.build(f, selected) for f in facts]


def differentiation_grid(
    records: Sequence[dict[str, Any]], selected: Sequence[str]
) -> list[dict[str, Any]]:
    """License Differentiation as one row per licence with a (active, holders) cell per
    selected service that the licence includes."""
    rows: dict[str, dict[str, Any]] = {}
    for record in records:
        row = rows.setdefault(
            record["sku_id"],
            {"name": record["name"], "part": record["sku_part_number"], "cells": {}},
        )
        row["cells"][record["service"]] = (record["active_users"], record["holders"])
    return [row for row in rows.values() if any(s in row["cells"] for s in selected)]


def _context(
    session: Session, tenant: Tenant, selected: tuple[str, ...], number: int, unmanaged: bool
) -> dict[str, Any]:
    summary = view.summarise(
        inputs.live_licences(session, tenant.pk, unmanaged),
        inputs.activity_rows(session, tenant.pk, selected),
        selected,
    )
    distribution = charts.stacked_bar_chart(
        [r["service"] for r in summary],
        [(label, [_band(r, key, minus) for r in summary]) for label, key, minus in BANDS],
        title="Users per service by last activity",
    )
    total, records = user_page(session, tenant.pk, selected, number, unmanaged)
    pages = max(1, -(-total // PAGE_SIZE))
    chosen = [] if len(selected) == len(services.SERVICES) else list(selected)

    def link(target: int) -> str:
        params: list[tuple[str, str | int]] = [("service", s) for s in chosen]
        if unmanaged:
            params.append(("include_unmanaged", 1))
        return "/activity?" + urlencode([*params, ("page", target)])

    stored = inputs.differentiation_rows(session, tenant.pk, unmanaged)
    licences = view.differentiation(stored, inputs.sku_names(session, tenant.pk), selected)
    return {
        "all_services": services.SERVICES,
        "include_unmanaged": unmanaged,
        "selected": selected,
        "summary": summary,
        "distribution": distribution,
        "records": records,
        "total": total,
        "number": number,
        "pages": pages,
        "first": (number - 1) * PAGE_SIZE + 1 if records else 0,
        "last": (number - 1) * PAGE_SIZE + len(records),
        "previous": link(number - 1) if number > 1 else None,
        "next": link(number + 1) if number < pages else None,
        "grid": differentiation_grid(licences, selected),
        "never": view.NEVER,
        "not_available": view.NOT_AVAILABLE,
    }


@router.get("/activity")
def activity(
    request: Request,
    user: User,
    service: Annotated[list[str] | None, Query()] = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    include_unmanaged: Annotated[bool, Query()] = False,
) -> Response:
    """Last activity per user and service, the distribution per service, licence use; licences
    of unmanaged SKUs count nowhere unless `include_unmanaged=1`."""
    selected = view.resolve_services(service)  # UsageError (400) for an unknown service
    with web_state(request).session() as session:
        tenants = all_tenants(session)
        tenant = pick_tenant(request, session)
        context = (
            _context(session, tenant, selected, page_number, include_unmanaged)
            if tenant is not None
            else {}
        )
        return page(
            request,
            "activity.html",
            context,
            user=user,
            tenant=tenant,
            tenants=tenants,
            title="Activity",
        )
