"""Application Access: each user's last activity in the eleven services — seven from usage
reports, Dynamics 365, Power BI and Project from the sign-in log (30 days on the first run, then
incremental from a stored watermark), Visio recorded as not available.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from seatwise import services
from seatwise.errors import GraphNoPremium
from seatwise.graph import endpoints
from seatwise.store import writes
from seatwise.store.schema import LicenseAssignment, ServiceActivity, SignInSummary, SkuPlan
from seatwise.sync import normalize, reportdata
from seatwise.sync.context import TaskContext

WATERMARK = "sign-ins"
NO_SIGN_INS_NOTE = (
    "The tenant has no Microsoft Entra ID P1, so there is no sign-in log: Dynamics 365, Power BI "
    "and Project activity is unknown."
)


def run(ctx: TaskContext) -> None:
    """Run the Application Access task inside the caller's transaction."""
    reportdata.check_concealment(ctx)
    ids = ctx.user_ids_by_upn()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    _report_services(ctx, ids, rows)
    _sign_in_services(ctx, rows)
    _visio(ctx, rows)
    written = writes.upsert_rows(
        ctx.session, ServiceActivity, list(rows.values()), key=("tenant_pk", "user_id", "service")
    )
    ctx.count("activity written", written)
    ctx.count("activity rows", len(rows))


def _row(
    ctx: TaskContext,
    user_id: str,
    service: str,
    last: date | None,
    as_of: date,
    source: str,
    licensed: bool | None = None,
    assigned: date | None = None,
) -> dict[str, Any]:
    return {
        "tenant_pk": ctx.tenant.pk,
        "user_id": user_id,
        "service": service,
        "last_activity": last,
        "licensed": licensed,
        "license_assigned": assigned,
        "source": source,
        "as_of": as_of,
        "available": True,
    }


def _report_services(
    ctx: TaskContext, ids: dict[str, str], rows: dict[tuple[str, str], dict[str, Any]]
) -> None:
    columns = tuple(
        f"{prefix} {suffix}"
        for prefix in services.ACTIVE_USER_COLUMNS.values()
        for suffix in ("Last Activity Date", "License Assign Date")
    ) + tuple(f"Has {prefix} License" for prefix in services.ACTIVE_USER_COLUMNS.values())
    upn = "User Principal Name"
    active = reportdata.fetch(ctx, endpoints.ACTIVE_USERS, "D7", upn, columns)
    email = reportdata.fetch(ctx, endpoints.EMAIL_ACTIVITY, "D7", upn, ("Last Activity Date",))
    if active.concealed or email.concealed:
        return
    for row in active.rows:
        user_id = ids.get((row.get("User Principal Name") or "").lower())
        if user_id is None:
            continue
        as_of = normalize.parse_date(row.get("Report Refresh Date")) or active.refresh_date
        for service, column in services.ACTIVE_USER_COLUMNS.items():
            rows[(user_id, service)] = _row(
                ctx,
                user_id,
                service,
                normalize.parse_date(row.get(f"{column} Last Activity Date")),
                as_of or ctx.today,
                endpoints.ACTIVE_USERS,
                normalize.parse_bool(row.get(f"Has {column} License")),
                normalize.parse_date(row.get(f"{column} License Assign Date")),
            )
    for row in email.rows:
        user_id = ids.get((row.get("User Principal Name") or "").lower())
        if user_id is None:
            continue
        as_of = normalize.parse_date(row.get("Report Refresh Date")) or email.refresh_date
        exchange = rows.get((user_id, services.EXCHANGE))
        rows[(user_id, services.OUTLOOK)] = _row(
            ctx,
            user_id,
            services.OUTLOOK,
            normalize.parse_date(row.get("Last Activity Date")),
            as_of or ctx.today,
            endpoints.EMAIL_ACTIVITY,
            exchange["licensed"] if exchange else None,
            exchange["license_assigned"] if exchange else None,
        )


def _sign_in_services(ctx: TaskContext, rows: dict[tuple[str, str], dict[str, Any]]) -> None:
    if ctx.tenant.premium is False:
        ctx.note(NO_SIGN_INS_NOTE)
        return
    stored = writes.get_cursor(ctx.session, ctx.tenant.pk, WATERMARK)
    first_run = stored is None
    since = (
        ctx.now - timedelta(days=ctx.options.first_sign_in_days)
        if stored is None
        else normalize.parse_datetime(stored) or ctx.now
    )
    existing = {
        (r.user_id, r.service): r
        for r in ctx.session.scalars(
            select(SignInSummary).where(SignInSummary.tenant_pk == ctx.tenant.pk)
        )
    }
    newest = since
    summaries: dict[tuple[str, str], dict[str, Any]] = {}
    try:
        with ctx.needs("AuditLog.Read.All"):
            for service, apps in services.SIGN_IN_APPS.items():
                for app_id, app_name in apps:
                    for event in _events(ctx, since, app_id, app_name):
                        moment = normalize.parse_datetime(event.get("createdDateTime"))
                        user_id = str(event.get("userId") or "").lower()
                        if moment is None or not user_id or moment <= since and not first_run:
                            continue
                        newest = max(newest, moment)
                        key = (user_id, service)
                        entry = summaries.get(key)
                        if entry is None:
                            old = existing.get(key)
                            entry = summaries[key] = {
                                "tenant_pk": ctx.tenant.pk,
                                "user_id": user_id,
                                "service": service,
                                "last_sign_in": old.last_sign_in if old else None,
                                "sign_ins": old.sign_ins if old else 0,
                                "window_start": old.window_start if old else since,
                            }
                        entry["sign_ins"] += 1
                        if entry["last_sign_in"] is None or moment > entry["last_sign_in"]:
                            entry["last_sign_in"] = moment
                        ctx.count(f"sign-ins:{service}")
    except GraphNoPremium:
        ctx.tenant.premium = False
        ctx.note(NO_SIGN_INS_NOTE)
        return
    known = set(ctx.user_ids_by_upn().values())
    summary_rows = [s for s in summaries.values() if s["user_id"] in known]
    writes.upsert_rows(
        ctx.session, SignInSummary, summary_rows, key=("tenant_pk", "user_id", "service")
    )
    as_of = newest.date()
    for (user_id, service), old in existing.items():
        if (user_id, service) not in summaries and old.last_sign_in is not None:
            summaries[(user_id, service)] = {"last_sign_in": old.last_sign_in, "user_id": user_id}
    for (user_id, service), entry in summaries.items():
        if user_id in known and entry["last_sign_in"] is not None:
            rows[(user_id, service)] = _row(
                ctx, user_id, service, entry["last_sign_in"].date(), as_of, "auditLogs/signIns"
            )
    if newest > since or first_run:
        writes.set_cursor(
            ctx.session, ctx.tenant.pk, WATERMARK, endpoints.graph_datetime(newest), ctx.now
        )


def _events(
    ctx: TaskContext, since: datetime, app_id: str | None, app_name: str
) -> Iterable[dict[str, Any]]:
    if app_id is not None:
        params = endpoints.sign_ins_params(since, app_id)
    else:
        params = {
            "$filter": f"createdDateTime ge {endpoints.graph_datetime(since)} and "
            f"appDisplayName eq '{app_name}'",
            "$top": str(endpoints.SIGN_INS_MAX_TOP),
        }
    for page in ctx.client.iter_pages(endpoints.SIGN_INS, params):
        ctx.progress(ctx.task, "sign-in log", len(page), None)
        yield from page


def _visio(ctx: TaskContext, rows: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Visio's activity cannot be captured: mark it not available for every Visio licensee."""
    visio_skus = set(
        ctx.session.scalars(
            select(SkuPlan.sku_id).where(
                SkuPlan.tenant_pk == ctx.tenant.pk,
                SkuPlan.plan_name.in_(("VISIO_CLIENT_SUBSCRIPTION", "VISIOONLINE")),
            )
        )
    )
    if not visio_skus:
        return
    holders = ctx.session.scalars(
        select(LicenseAssignment.user_id).where(
            LicenseAssignment.tenant_pk == ctx.tenant.pk, LicenseAssignment.sku_id.in_(visio_skus)
        )
    ).all()
    for user_id in set(holders):
        row = _row(ctx, user_id, services.VISIO, None, ctx.today, "not available", True)
        row["available"] = False
        rows[(user_id, services.VISIO)] = row
