"""Application Access: each user's last activity in the eleven services — seven from usage
reports, Dynamics 365, Power BI and Project from the sign-in log (30 days on the first run, then
incremental from a stored watermark), Visio recorded as not available.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import delete, select

from seatwise import services
from seatwise.errors import GraphNoPremium
from seatwise.graph import endpoints
from seatwise.store import reads, writes
from seatwise.store.schema import LicenseAssignment, ServiceActivity, SignInSummary, SkuPlan
from seatwise.sync import normalize, reportdata, summary, validate
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
    reports = [(endpoints.ACTIVE_USERS, "D7"), (endpoints.EMAIL_ACTIVITY, "D7")]
    # The reports download and the sign-in log is read on helper threads while this one works:
    # the report services' rows (tuples, not dicts: ~550k for 100k users) are written while
    # the sign-in log is still being read. The services never overlap.
    with (
        reportdata.Downloads(ctx, reports) as downloads,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="sign-in-log") as pool,
    ):
        sign_ins = _start_sign_ins(ctx, pool)
        try:
            rows: list[ActivityRow] = []
            digest = downloads.digest(ctx)
            if reportdata.unchanged(ctx, digest):  # the same files, naming the same users
                ctx.count("reports unchanged", len(reports))
            else:
                notes, unmatched = len(ctx.notes), set[str]()
                ids = ctx.user_ids_by_upn()
                listed = _report_services(ctx, rows, downloads, ids, unmatched)
                del ids
                _write(ctx, rows)
                for source, users in listed.items():
                    _drop_unlisted(ctx, source, users)
                clean = listed and len(ctx.notes) == notes
                reportdata.remember(ctx, digest if clean else None, unmatched)
        except BaseException:
            if sign_ins is not None:
                sign_ins.stop.set()
            raise
        rows = []
        _sign_in_services(ctx, rows, sign_ins)
    _visio(ctx, rows)
    _write(ctx, rows)


def _write(ctx: TaskContext, rows: list[ActivityRow]) -> None:
    """Write the activity rows that differ from the stored ones (of rows for the same user and
    service, the last wins); count."""
    if not rows:
        ctx.count("activity rows", 0)
        return
    rows.sort(key=itemgetter(1, 2))  # stable, so the last of equal keys stays last
    following = [*rows[1:], None]
    last = [a for a, b in zip(rows, following, strict=True) if b is None or a[1:3] != b[1:3]]
    del following
    rows.clear()
    ctx.count("activity rows", len(last))
    by_service: dict[str, list[ActivityRow]] = {}
    for row in last:
        by_service.setdefault(row[2], []).append(row)
    del last
    changed: list[ActivityRow] = []
    for service, some in by_service.items():  # a service at a time: less memory
        stored = _stored(ctx, service)
        changed.extend(row for row in some if stored.get(row[1]) != row[3:])
    del by_service
    ctx.touch(row[1] for row in changed)
    written = writes.upsert_tuples(
        ctx.session, ServiceActivity, COLUMNS, changed, key=("tenant_pk", "user_id", "service")
    )
    ctx.count("activity written", written)


def _stored(ctx: TaskContext, service: str) -> dict[str, tuple[Any, ...]]:
    """The tenant's stored activity rows of `service`: user → the columns after the service,
    as `_write` builds them. Read straight from the driver (no Row objects): SQLite gives
    dates as ISO text (made dates here) and flags as 0/1, which compare equal to booleans."""
    day = summary.Days()
    table = ServiceActivity
    raw = reads.raw_rows(
        ctx.session.connection(),
        select(
            table.user_id,
            table.last_activity,
            table.licensed,
            table.license_assigned,
            table.source,
            table.as_of,
            table.available,
        ).where(table.tenant_pk == ctx.tenant.pk, table.service == service),
    )
    return {
        user_id: (day(last), licensed, day(assigned), source, day(as_of), available)
        for user_id, last, licensed, assigned, source, as_of, available in raw
    }


def _drop_unlisted(ctx: TaskContext, source: str, users: set[str]) -> None:
    """Delete the activity rows from `source` of users it no longer lists: a report (or the
    Visio licensees) is the whole truth of its day, so the table says what a first sync would."""
    pk = ctx.tenant.pk
    stored = ctx.session.scalars(
        select(ServiceActivity.user_id)
        .where(ServiceActivity.tenant_pk == pk, ServiceActivity.source == source)
        .distinct()
    ).all()
    stale = sorted(set(stored) - users)
    ctx.touch(stale)
    for start in range(0, len(stale), writes.CHUNK_ROWS):
        ctx.session.execute(
            delete(ServiceActivity).where(
                ServiceActivity.tenant_pk == pk,
                ServiceActivity.source == source,
                ServiceActivity.user_id.in_(stale[start : start + writes.CHUNK_ROWS]),
            )
        )
    ctx.count("activity removed", len(stale))


def _report_services(
    ctx: TaskContext,
    rows: list[ActivityRow],
    downloads: reportdata.Downloads,
    ids: dict[str, str],
    unmatched: set[str],
) -> dict[str, set[str]]:
    """Append the report services' rows; return the users each report listed (nothing when
    names are concealed: then nothing is matched and nothing removed) and add the UPNs that
    name no user to `unmatched`."""
    prefixes = tuple(services.ACTIVE_USER_COLUMNS.values())
    columns = tuple(
        f"{prefix} {suffix}"
        for prefix in prefixes
        for suffix in ("Last Activity Date", "License Assign Date")
    ) + tuple(f"Has {prefix} License" for prefix in prefixes)
    upn = "User Principal Name"
    active = reportdata.fetch(ctx, endpoints.ACTIVE_USERS, "D7", upn, columns, downloads)
    email = reportdata.fetch(
        ctx, endpoints.EMAIL_ACTIVITY, "D7", upn, ("Last Activity Date",), downloads
    )
    if active.concealed or email.concealed:
        return {}
    listed: dict[str, set[str]] = {ACTIVE: set(), EMAIL: set()}
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
            unmatched.add(row[1].lower())
            continue
        listed[ACTIVE].add(user_id)
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
            unmatched.add(user.lower())
            continue
        listed[EMAIL].add(user_id)
        as_of = date_of(refreshed) or email.refresh_date or today
        flag, since = exchange.get(user_id, (None, None))
        outlook_day = date_of(outlook)
        rows.append((pk, user_id, services.OUTLOOK, outlook_day, flag, since, EMAIL, as_of, True))
    return listed


ACTIVE = endpoints.ACTIVE_USERS
EMAIL = endpoints.EMAIL_ACTIVITY


@dataclass
class _SignInRead:
    """The sign-in log read since the watermark: per (user, service) the number of sign-ins
    and the latest one; the newest event seen; sign-ins per service."""

    since: datetime
    first_run: bool
    seen: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    newest: datetime | None = None
    per_service: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)  # the task gave up


def _start_sign_ins(ctx: TaskContext, pool: ThreadPoolExecutor) -> _Started | None:
    """Start reading the sign-in log on `pool` (it only talks to Graph); None without P1."""
    if ctx.tenant.premium is False:
        ctx.note(NO_SIGN_INS_NOTE)
        return None
    stored = writes.get_cursor(ctx.session, ctx.tenant.pk, WATERMARK)
    since = (
        ctx.now - timedelta(days=ctx.options.first_sign_in_days)
        if stored is None
        else normalize.parse_datetime(stored) or ctx.now
    )
    read = _SignInRead(since, stored is None)
    return _Started(pool.submit(_read_sign_ins, ctx, read), read.stop)


class _Started(NamedTuple):
    future: Future[_SignInRead]
    stop: threading.Event


def _read_sign_ins(ctx: TaskContext, read: _SignInRead) -> _SignInRead:
    since, first_run, seen = read.since, read.first_run, read.seen
    newest = since
    for service, apps in services.SIGN_IN_APPS.items():
        count = 0
        for app_id, app_name in apps:
            for event in _events(ctx, since, app_id, app_name):
                if read.stop.is_set():
                    return read
                moment = normalize.parse_datetime(event.get("createdDateTime"))
                user_id = str(event.get("userId") or "").lower()
                if moment is None or not user_id or moment <= since and not first_run:
                    continue
                newest = max(newest, moment)
                count += 1
                entry = seen.get((user_id, service))
                if entry is None:
                    seen[(user_id, service)] = [1, moment]
                else:
                    entry[0] += 1
                    if moment > entry[1]:
                        entry[1] = moment
        if count:
            read.per_service[service] = count
    read.newest = newest
    return read


def _sign_in_services(ctx: TaskContext, rows: list[ActivityRow], started: _Started | None) -> None:
    if started is None:
        return
    try:
        with ctx.needs("AuditLog.Read.All"):
            read = started.future.result()
    except GraphNoPremium:
        ctx.tenant.premium = False
        ctx.note(NO_SIGN_INS_NOTE)
        return
    for service, count in read.per_service.items():
        ctx.count(f"sign-ins:{service}", count)
    since, newest = read.since, read.newest or read.since
    pk = ctx.tenant.pk
    if read.seen:  # else nothing moved: every pair's row is as of this watermark already
        _store_sign_ins(ctx, rows, read)
    if newest > since or read.first_run:
        writes.set_cursor(ctx.session, pk, WATERMARK, endpoints.graph_datetime(newest), ctx.now)


def _store_sign_ins(ctx: TaskContext, rows: list[ActivityRow], read: _SignInRead) -> None:
    """Add the new sign-ins to each (user, service) summary and append every pair's activity
    row, as of the newest sign-in read."""
    since, newest = read.since, read.newest or read.since
    pk = ctx.tenant.pk
    existing = {
        (user_id, service): (last_sign_in, sign_ins, window_start)
        for user_id, service, last_sign_in, sign_ins, window_start in ctx.session.execute(
            select(
                SignInSummary.user_id,
                SignInSummary.service,
                SignInSummary.last_sign_in,
                SignInSummary.sign_ins,
                SignInSummary.window_start,
            ).where(SignInSummary.tenant_pk == pk)
        ).all()
    }
    known = ctx.user_ids()
    summary_rows = []
    as_of = newest.date()
    for (user_id, service), (count, moment) in read.seen.items():
        if user_id not in known:
            continue
        old = existing.get((user_id, service))
        last = moment if old is None or old[0] is None else max(old[0], moment)
        summary_rows.append(
            {
                "tenant_pk": pk,
                "user_id": user_id,
                "service": service,
                "last_sign_in": last,
                "sign_ins": (old[1] if old else 0) + count,
                "window_start": old[2] if old else since,
            }
        )
        rows.append((pk, user_id, service, last.date(), None, None, SIGN_INS, as_of, True))
    # The other pairs' rows are as of the newest sign-in read too (`_write` writes only those
    # whose date moved).
    for (user_id, service), (last_sign_in, _, _) in existing.items():
        if (user_id, service) not in read.seen and user_id in known and last_sign_in is not None:
            day = last_sign_in.date()
            rows.append((pk, user_id, service, day, None, None, SIGN_INS, as_of, True))
    del existing
    writes.upsert_rows(
        ctx.session, SignInSummary, summary_rows, key=("tenant_pk", "user_id", "service")
    )


SIGN_INS = "auditLogs/signIns"
NOT_AVAILABLE = "not available"
VISIO_PLANS = ("VISIO_CLIENT_SUBSCRIPTION", "VISIOONLINE")


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
        for event in page:
            if (problem := validate.sign_in_event_problem(event)) is not None:
                ctx.skip("sign-in event", problem, event)
                continue
            yield event


def _visio(ctx: TaskContext, rows: list[ActivityRow]) -> None:
    """Visio's activity cannot be captured: mark it not available for every Visio licensee."""
    visio_skus = set(
        ctx.session.scalars(
            select(SkuPlan.sku_id).where(
                SkuPlan.tenant_pk == ctx.tenant.pk,
                SkuPlan.plan_name.in_(VISIO_PLANS),
            )
        )
    )
    holders = ctx.session.scalars(
        select(LicenseAssignment.user_id).where(
            LicenseAssignment.tenant_pk == ctx.tenant.pk, LicenseAssignment.sku_id.in_(visio_skus)
        )
    ).all()
    pk = ctx.tenant.pk
    for user_id in set(holders):
        rows.append(
            (pk, user_id, services.VISIO, None, True, None, NOT_AVAILABLE, ctx.today, False)
        )
    _drop_unlisted(ctx, NOT_AVAILABLE, set(holders))
