"""Application Roster: users, licence assignments, blocked credentials, last sign-ins, MFA, and
from the usage reports storage, platforms and Office activations, with a daily snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

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
    seen = _users(ctx)
    _mfa(ctx)
    deleted = writes.mark_missing_users_deleted(ctx.session, ctx.tenant.pk, seen, ctx.now)
    ctx.count("users deleted", deleted)
    _reports(ctx)
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
    seen: set[str] = set()
    assignments: list[dict[str, Any]] = []
    sign_ins: dict[str, Mapping[str, Any]] = {}
    try:
        pages = ctx.client.iter_pages(endpoints.USERS, _users_params(with_sign_in))
        for page in pages:
            rows = [normalize.user_row(ctx.tenant.pk, item, ctx.today) for item in page]
            for item in page:
                assignments.extend(normalize.assignment_rows(ctx.tenant.pk, item))
                if with_sign_in:
                    sign_ins[str(item["id"]).lower()] = normalize.sign_in_columns(
                        item.get("signInActivity")
                    )
            written = writes.upsert_rows(
                ctx.session,
                User,
                rows,
                key=("tenant_pk", "id"),
                update_columns=list(USER_FACTS),
                compare_columns=["fingerprint", "deleted_at"],
            )
            seen.update(row["id"] for row in rows)
            ctx.count("users written", written)
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
        written = update_changed(
            ctx.session, _USER_TABLE, ctx.tenant.pk, "id", sign_ins, SIGN_IN_COLUMNS
        )
        ctx.count("sign-in activity written", written)
    ctx.count("users", len(seen))
    changes = writes.replace_children(
        ctx.session, LicenseAssignment, ctx.tenant.pk, seen, assignments
    )
    ctx.count("assignments written", changes.total)
    ctx.count("assignments", len(assignments))
    return seen


def _mfa(ctx: TaskContext) -> None:
    if ctx.tenant.premium is False:
        return
    values: dict[str, Mapping[str, Any]] = {}
    try:
        with ctx.needs("UserAuthenticationMethod.Read.All"):
            for page in ctx.client.iter_pages(
                endpoints.REGISTRATION_DETAILS, endpoints.registration_details_params()
            ):
                for item in page:
                    methods = sorted(str(m) for m in item.get("methodsRegistered") or [])
                    values[str(item["id"]).lower()] = {
                        "mfa_registered": bool(item.get("isMfaRegistered")),
                        "mfa_methods": methods,
                        "is_admin": item.get("isAdmin"),
                    }
                ctx.progress(ctx.task, "MFA registration", len(page), None)
    except GraphNoPremium:
        ctx.tenant.premium = False
        ctx.note(NO_P1_NOTE)
        return
    written = update_changed(ctx.session, _USER_TABLE, ctx.tenant.pk, "id", values, MFA_COLUMNS)
    ctx.count("MFA written", written)


def _reports(ctx: TaskContext) -> None:
    reportdata.check_concealment(ctx)
    period = ctx.options.report_period
    ids = ctx.user_ids_by_upn()
    mailbox = reportdata.fetch(
        ctx, endpoints.MAILBOX_USAGE, period, UPN, ("Storage Used (Byte)", LAST_ACTIVITY)
    )
    onedrive = reportdata.fetch(
        ctx, endpoints.ONEDRIVE_USAGE, period, OWNER, ("Storage Used (Byte)", LAST_ACTIVITY)
    )
    apps = reportdata.fetch(ctx, endpoints.M365_APPS, period, UPN, PLATFORMS)
    activations = reportdata.fetch(ctx, endpoints.ACTIVATIONS, None, UPN, ACTIVATION_COLUMNS)
    if any(r.concealed for r in (mailbox, onedrive, apps, activations)):
        return
    day = mailbox.refresh_date or apps.refresh_date or ctx.today
    snapshot: dict[str, dict[str, Any]] = {}

    def slot(upn: str | None) -> dict[str, Any] | None:
        user_id = ids.get((upn or "").lower())
        if user_id is None:
            return None
        return snapshot.setdefault(
            user_id,
            {
                "tenant_pk": ctx.tenant.pk,
                "user_id": user_id,
                "day": day,
                "mail_mb": None,
                "onedrive_mb": None,
                "windows": None,
                "mac": None,
                "mobile": None,
                "web": None,
                "activations": None,
                "exchange_active": None,
                "onedrive_active": None,
            },
        )

    for row in mailbox.rows:
        if (entry := slot(row.get("User Principal Name"))) is not None:
            entry["mail_mb"] = normalize.bytes_to_mb(row.get("Storage Used (Byte)"))
            entry["exchange_active"] = (
                normalize.parse_date(row.get("Last Activity Date")) is not None
            )
    for row in onedrive.rows:
        if (entry := slot(row.get("Owner Principal Name"))) is not None:
            entry["onedrive_mb"] = normalize.bytes_to_mb(row.get("Storage Used (Byte)"))
            entry["onedrive_active"] = (
                normalize.parse_date(row.get("Last Activity Date")) is not None
            )
    for row in apps.rows:
        if (entry := slot(row.get("User Principal Name"))) is not None:
            for platform in ("Windows", "Mac", "Mobile", "Web"):
                entry[platform.lower()] = normalize.parse_bool(row.get(platform))
    activation_rows: dict[tuple[str, str], dict[str, Any]] = {}
    for row in activations.rows:
        user_id = ids.get((row.get("User Principal Name") or "").lower())
        product = (row.get("Product Type") or "").strip()
        if user_id is None or not product:
            continue
        activation_rows[(user_id, product)] = {
            "tenant_pk": ctx.tenant.pk,
            "user_id": user_id,
            "product_type": product,
            "last_activated": normalize.parse_date(row.get("Last Activated Date")),
            "windows": normalize.parse_int(row.get("Windows")) or 0,
            "mac": normalize.parse_int(row.get("Mac")) or 0,
            "windows10_mobile": normalize.parse_int(row.get("Windows 10 Mobile")) or 0,
            "ios": normalize.parse_int(row.get("iOS")) or 0,
            "android": normalize.parse_int(row.get("Android")) or 0,
            "shared_computer": bool(normalize.parse_bool(row.get("Activated On Shared Computer"))),
        }
        if (entry := slot(row.get("User Principal Name"))) is not None:
            entry["activations"] = (entry["activations"] or 0) + 1
    changes = writes.replace_rows(
        ctx.session, Activation, ctx.tenant.pk, list(activation_rows.values())
    )
    ctx.count("activations written", changes.total)
    written = writes.upsert_rows(
        ctx.session, UsageSnapshot, list(snapshot.values()), key=("tenant_pk", "user_id", "day")
    )
    ctx.count("snapshots written", written)
