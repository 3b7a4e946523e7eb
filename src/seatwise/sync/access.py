"""Application Access: each user's last activity in the eleven services — seven from usage
reports, Dynamics 365, Power BI and Project from the sign-in log (30 days on the first run, then
incremental from a stored watermark), Visio recorded as not available.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from operator import itemgetter
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


COLUMNS = (
    "tenant_pk",
    "user_id",
    "service",
    "last_activity",
    "licensed",
    "license_assigned",
    "source",
    "as_of",
    "available",
)
ActivityRow = tuple[int, str, str, date | None, bool | None, date | None, str, date, bool]


def run(ctx: TaskContext) -> None:
    """Run the Application Access task inside the caller's transaction."""
    reportdata.check_concealment(ctx)
    ids = ctx.user_ids_by_upn()
    rows: list[ActivityRow] = []  # tuples, not dicts: a 100k tenant has ~650k of them
    _report_services(ctx, ids, rows)
    del ids
    _sign_in_services(ctx, rows)
    _visio(ctx, rows)
    rows.sort(key=itemgetter(1, 2))  # stable: of rows for the same user and service, the last wins
    distinct = sum(1 for a, b in zip(rows, rows[1:], strict=False) if a[1:3] != b[1:3])
    written = writes.upsert_tuples(
        ctx.session, ServiceActivity, COLUMNS, rows, key=("tenant_pk", "user_id", "service")
    )
    ctx.count("activity written", written)
    ctx.count("activity rows", distinct + 1 if rows else 0)


def _report_services(ctx: TaskContext, ids: dict[str, str], rows: list[ActivityRow]) -> None:
    prefixes = tuple(services.ACTIVE_USER_COLUMNS.values())
    columns = tuple(
        f"{prefix} {suffix}"
        for prefix in prefixes
        for suffix in ("Last Activity Date", "License Assign Date")
    ) + tuple(f"Has {prefix} License" for prefix in prefixes)
    upn = "User Principal Name"
    active = reportdata.fetch(ctx, endpoints.ACTIVE_USERS, "D7", upn, columns)
    email = reportdata.fetch(ctx, endpoints.EMAIL_ACTIVITY, "D7", upn, ("Last Activity Date",))
    if active.concealed or email.concealed:
        return
    pk = ctx.tenant.pk
    today = ctx.today
    date_of = normalize.report_date
    flag_of = normalize.report_bool
    # Per service: (service, position of its last activity, assign date and licence flag).
    where = [
        (
            service,
            active.column(f"{prefix} Last Activity Date"),
            active.column(f"{prefix} License Assign Date"),
            active.column(f"Has {prefix} License"),
        )
        for service, prefix in services.ACTIVE_USER_COLUMNS.items()
    ]
    exchange: dict[str, tuple[bool | None, date | None]] = {}
    for row in active.rows:
        user_id = ids.get(row[1].lower())
        if user_id is None:
            continue
        as_of = date_of(row[0]) or active.refresh_date or today
        for service, last, assigned, licensed in where:
            flag, since = flag_of(row[licensed]), date_of(row[assigned])
            rows.append(
                (pk, user_id, service, date_of(row[last]), flag, since, ACTIVE, as_of, True)
            )
            if service == services.EXCHANGE:
                exchange[user_id] = (flag, since)
    del active.rows[:]
    for refreshed, user, outlook in email.rows:
        user_id = ids.get(user.lower())
        if user_id is None:
            continue
        as_of = date_of(refreshed) or email.refresh_date or today
        flag, since = exchange.get(user_id, (None, None))
        outlook_day = date_of(outlook)
        rows.append((pk, user_id, services.OUTLOOK, outlook_day, flag, since, EMAIL, as_of, True))


ACTIVE = endpoints.ACTIVE_USERS
EMAIL = endpoints.EMAIL_ACTIVITY


def _sign_in_services(ctx: TaskContext, rows: list[ActivityRow]) -> None:
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
        (user_id, service): (last_sign_in, sign_ins, window_start)
        for user_id, service, last_sign_in, sign_ins, window_start in ctx.session.execute(
            select(
                SignInSummary.user_id,
                SignInSummary.service,
                SignInSummary.last_sign_in,
                SignInSummary.sign_ins,
                SignInSummary.window_start,
            ).where(SignInSummary.tenant_pk == ctx.tenant.pk)
        ).all()
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
                                "last_sign_in": old[0] if old else None,
                                "sign_ins": old[1] if old else 0,
                                "window_start": old[2] if old else since,
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
    del summary_rows
    as_of = newest.date()
    pk = ctx.tenant.pk
    last_sign_ins = {key: entry["last_sign_in"] for key, entry in summaries.items()}
    del summaries
    for key, (last_sign_in, _, _) in existing.items():
        if key not in last_sign_ins and last_sign_in is not None:
            last_sign_ins[key] = last_sign_in
    del existing
    for (user_id, service), moment in last_sign_ins.items():
        if user_id in known and moment is not None:
            rows.append((pk, user_id, service, moment.date(), None, None, SIGN_INS, as_of, True))
    if newest > since or first_run:
        writes.set_cursor(
            ctx.session, ctx.tenant.pk, WATERMARK, endpoints.graph_datetime(newest), ctx.now
        )


SIGN_INS = "auditLogs/signIns"


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


def _visio(ctx: TaskContext, rows: list[ActivityRow]) -> None:
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
    pk = ctx.tenant.pk
    for user_id in set(holders):
        rows.append(
            (pk, user_id, services.VISIO, None, True, None, "not available", ctx.today, False)
        )
