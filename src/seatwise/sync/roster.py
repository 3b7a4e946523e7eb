"""Application Roster: users, licence assignments, blocked credentials, last sign-ins, MFA, and
from the usage reports storage, platforms and Office activations, with a daily snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from sqlalchemy import Table, inspect

from seatwise.errors import GraphForbidden, GraphNoPremium
from seatwise.graph import endpoints
from seatwise.store import writes
from seatwise.store.schema import Activation, LicenseAssignment, UsageSnapshot, User
from seatwise.sync import normalize, reportdata
from seatwise.sync.columns import update_changed
from seatwise.sync.context import TaskContext

NO_P1_NOTE = (
    "The tenant has no Microsoft Entra ID P1, so Graph gives no last sign-in, sign-in log or MFA "
    "registration data: last activity comes from usage-report dates only."
)
USER_FACTS = (
    "upn",
    "mail",
    "given_name",
    "surname",
    "display_name",
    "account_enabled",
    "user_type",
    "created_at",
    "country",
    "usage_location",
    "department",
    "job_title",
    "on_premises_sync",
    "deleted_at",
    "fingerprint",
)
SIGN_IN_COLUMNS = ("last_sign_in", "last_interactive_sign_in", "last_non_interactive_sign_in")
MFA_COLUMNS = ("mfa_registered", "mfa_methods", "is_admin")
_USER_TABLE = cast(Table, inspect(User).local_table)
_Page = TypeVar("_Page")
_Prepared = TypeVar("_Prepared")
AUDIT_PERMISSION_MISSING = "Authentication_MSGraphPermissionMissing"
UPN = "User Principal Name"
OWNER = "Owner Principal Name"
LAST_ACTIVITY = "Last Activity Date"
PLATFORMS = ("Windows", "Mac", "Mobile", "Web")
ACTIVATION_COLUMNS = (
    "Product Type",
    "Last Activated Date",
    "Windows",
    "Mac",
    "Windows 10 Mobile",
    "iOS",
    "Android",
    "Activated On Shared Computer",
)


def run(ctx: TaskContext) -> None:
    """Run the Application Roster task inside the caller's transaction."""
    period = ctx.options.report_period
    reports = [
        (endpoints.MAILBOX_USAGE, period),
        (endpoints.ONEDRIVE_USAGE, period),
        (endpoints.M365_APPS, period),
        (endpoints.ACTIVATIONS, None),
    ]
    with reportdata.Downloads(ctx, reports) as downloads:  # fetched while users are read
        seen = _users(ctx)
        _mfa(ctx)
        deleted = writes.mark_missing_users_deleted(ctx.session, ctx.tenant.pk, seen, ctx.now)
        ctx.count("users deleted", deleted)
        _reports(ctx, downloads)
    pruned = writes.prune_snapshots(
        ctx.session, ctx.tenant.pk, ctx.options.retention_days, ctx.today
    )
    ctx.count("snapshots pruned", pruned)


def _users(ctx: TaskContext) -> set[str]:
    """Read every user once, with `signInActivity` when the tenant has Entra ID P1."""
    if ctx.tenant.premium is not False:
        try:
            return _read_users(ctx, with_sign_in=True)
        except GraphNoPremium:
            ctx.note(NO_P1_NOTE)
    ctx.tenant.premium = False
    return _read_users(ctx, with_sign_in=False)


def _users_params(with_sign_in: bool) -> dict[str, str]:
    if not with_sign_in:
        return endpoints.users_params()
    fields = (*endpoints.USER_FIELDS, "signInActivity")
    return {"$select": ",".join(fields), "$top": str(endpoints.SIGN_IN_MAX_TOP)}


def _read_users(ctx: TaskContext, with_sign_in: bool) -> set[str]:
    """Upsert the users page by page, with their sign-in columns when asked for them, and
    replace each page's licence assignments: nothing of the whole tenant is held but ids."""
    seen: set[str] = set()
    update_columns = [*USER_FACTS, *SIGN_IN_COLUMNS] if with_sign_in else list(USER_FACTS)
    compare_columns = ["fingerprint", "deleted_at", *(SIGN_IN_COLUMNS if with_sign_in else ())]
    assignments = 0
    pk, today = ctx.tenant.pk, ctx.today

    def prepare(page: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rows = [normalize.user_row(pk, item, today) for item in page]
        if with_sign_in:
            for row, item in zip(rows, page, strict=True):
                row.update(normalize.sign_in_columns(item.get("signInActivity")))
        return rows, [row for item in page for row in normalize.assignment_rows(pk, item)]

    try:
        pages = ctx.client.iter_pages(endpoints.USERS, _users_params(with_sign_in))
        for rows, page_assignments in _one_ahead(pages, prepare):
            written = writes.upsert_rows(
                ctx.session,
                User,
                rows,
                key=("tenant_pk", "id"),
                update_columns=update_columns,
                compare_columns=compare_columns,
            )
            ids = [row["id"] for row in rows]
            seen.update(ids)
            changes = writes.replace_children(
                ctx.session, LicenseAssignment, pk, ids, page_assignments
            )
            assignments += len(page_assignments)
            ctx.count("users written", written)
            ctx.count("assignments written", changes.total)
            ctx.progress(ctx.task, "users", len(rows), None)
    except GraphNoPremium:
        raise
    except GraphForbidden as exc:
        audit = (
            exc.code == "Authentication_MSGraphPermissionMissing" or "AuditLog" in exc.graph_message
        )
        with ctx.needs("AuditLog.Read.All" if audit else "Directory.Read.All"):
            raise
    if with_sign_in:
        ctx.tenant.premium = True
    ctx.count("users", len(seen))
    ctx.count("assignments", assignments)
    return seen


def _one_ahead(
    pages: Iterable[_Page], prepare: Callable[[_Page], _Prepared]
) -> Iterator[_Prepared]:
    """`prepare(page)` of each page, the next one prepared on a helper thread while the caller
    stores this one (SQLite lets other threads run while it writes)."""
    source = iter(pages)

    def step() -> _Prepared | None:
        page = next(source, None)
        return None if page is None else prepare(page)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="roster-prepare") as pool:
        pending = pool.submit(step)
        try:
            while (ready := pending.result()) is not None:
                pending = pool.submit(step)
                yield ready
        finally:
            pending.cancel()


def _mfa(ctx: TaskContext) -> None:
    if ctx.tenant.premium is False:
        return
    values: dict[str, tuple[Any, ...]] = {}
    try:
        with ctx.needs("UserAuthenticationMethod.Read.All"):
            for page in ctx.client.iter_pages(
                endpoints.REGISTRATION_DETAILS, endpoints.registration_details_params()
            ):
                for item in page:
                    methods = sorted(str(m) for m in item.get("methodsRegistered") or [])
                    values[str(item["id"]).lower()] = (
                        bool(item.get("isMfaRegistered")),
                        methods,
                        item.get("isAdmin"),
                    )
                ctx.progress(ctx.task, "MFA registration", len(page), None)
    except GraphNoPremium:
        ctx.tenant.premium = False
        ctx.note(NO_P1_NOTE)
        return
    written = update_changed(ctx.session, _USER_TABLE, ctx.tenant.pk, "id", values, MFA_COLUMNS)
    ctx.count("MFA written", written)


SNAPSHOT_COLUMNS = (
    "tenant_pk",
    "user_id",
    "day",
    "mail_mb",
    "onedrive_mb",
    "windows",
    "mac",
    "mobile",
    "web",
    "activations",
    "exchange_active",
    "onedrive_active",
)
_MAIL, _ONEDRIVE, _WINDOWS, _ACTIVATIONS, _EXCHANGE_ACTIVE, _ONEDRIVE_ACTIVE = 3, 4, 5, 9, 10, 11


def _reports(ctx: TaskContext, downloads: reportdata.Downloads) -> None:
    """Storage, platforms and activations from the four reports, each one read, folded into
    one snapshot row per user and let go before the next is fetched."""
    reportdata.check_concealment(ctx)
    period = ctx.options.report_period
    ids = ctx.user_ids_by_upn()
    pk = ctx.tenant.pk
    snapshot: dict[str, list[Any]] = {}

    def slot(upn: str) -> list[Any] | None:
        user_id = ids.get(upn.lower())
        if user_id is None:
            return None
        entry = snapshot.get(user_id)
        if entry is None:
            entry = snapshot[user_id] = [pk, user_id, None, *([None] * 9)]
        return entry

    storage = ("Storage Used (Byte)", LAST_ACTIVITY)
    mailbox = reportdata.fetch(ctx, endpoints.MAILBOX_USAGE, period, UPN, storage, downloads)
    for _, upn, used, last in mailbox.rows:
        if (entry := slot(upn)) is not None:
            entry[_MAIL] = normalize.bytes_to_mb(used)
            entry[_EXCHANGE_ACTIVE] = normalize.report_date(last) is not None
    concealed = mailbox.concealed
    del mailbox.rows[:]
    onedrive = reportdata.fetch(ctx, endpoints.ONEDRIVE_USAGE, period, OWNER, storage, downloads)
    for _, upn, used, last in onedrive.rows:
        if (entry := slot(upn)) is not None:
            entry[_ONEDRIVE] = normalize.bytes_to_mb(used)
            entry[_ONEDRIVE_ACTIVE] = normalize.report_date(last) is not None
    concealed = concealed or onedrive.concealed
    del onedrive.rows[:]
    apps = reportdata.fetch(ctx, endpoints.M365_APPS, period, UPN, PLATFORMS, downloads)
    for row in apps.rows:
        if (entry := slot(row[1])) is not None:
            entry[_WINDOWS : _WINDOWS + 4] = map(normalize.report_bool, row[2:6])
    concealed = concealed or apps.concealed
    del apps.rows[:]
    activations = reportdata.fetch(
        ctx, endpoints.ACTIVATIONS, None, UPN, ACTIVATION_COLUMNS, downloads
    )
    activation_rows: dict[tuple[str, str], dict[str, Any]] = {}
    for _, upn, product, last, windows, mac, mobile, ios, android, shared in activations.rows:
        user_id = ids.get(upn.lower())
        product = product.strip()
        if user_id is None or not product:
            continue
        activation_rows[(user_id, product)] = {
            "tenant_pk": pk,
            "user_id": user_id,
            "product_type": product,
            "last_activated": normalize.report_date(last),
            "windows": normalize.parse_int(windows) or 0,
            "mac": normalize.parse_int(mac) or 0,
            "windows10_mobile": normalize.parse_int(mobile) or 0,
            "ios": normalize.parse_int(ios) or 0,
            "android": normalize.parse_int(android) or 0,
            "shared_computer": bool(normalize.report_bool(shared)),
        }
        if (entry := slot(upn)) is not None:
            entry[_ACTIVATIONS] = (entry[_ACTIVATIONS] or 0) + 1
    if concealed or activations.concealed:
        return
    del activations.rows[:]
    changes = writes.replace_rows(ctx.session, Activation, pk, list(activation_rows.values()))
    del activation_rows
    ctx.count("activations written", changes.total)
    day = mailbox.refresh_date or apps.refresh_date or ctx.today
    for entry in snapshot.values():
        entry[2] = day
    written = writes.upsert_tuples(
        ctx.session,
        UsageSnapshot,
        SNAPSHOT_COLUMNS,
        list(snapshot.values()),
        key=("tenant_pk", "user_id", "day"),
    )
    ctx.count("snapshots written", written)
