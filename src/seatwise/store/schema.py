"""The database schema of seatwise: SQLAlchemy models on one `MetaData` with a naming convention.

Every tenant-owned table starts its key with `tenant_pk` (FK to `tenant.pk`, ON DELETE CASCADE),
so several tenants live side by side. Portable types only. Imports nothing from seatwise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "AUDIT_OUTCOMES",
    "AUTH_MODES",
    "ROLES",
    "ITEM_STATES",
    "PLAN_STATUSES",
    "NAMING_CONVENTION",
    "PAYMENT_FREQUENCIES",
    "REPORT_SERVICES",
    "RUN_STATUSES",
    "SERVICES",
    "SIGN_IN_SERVICES",
    "TASKS",
    "USER_KINDS",
    "Activation",
    "ApiToken",
    "AppUser",
    "AuditEvent",
    "Base",
    "LicenseAssignment",
    "LicenseContract",
    "LicenseUsage",
    "PendingSignIn",
    "ReclaimItem",
    "ReclaimPlan",
    "ReportRefresh",
    "ServiceActivity",
    "SignInSummary",
    "Sku",
    "SkuPlan",
    "SkuSnapshot",
    "SyncCursor",
    "SyncLease",
    "TaskRun",
    "Tenant",
    "UTCDateTime",
    "UsageSnapshot",
    "User",
    "metadata",
]

# The 11 services of DESIGN §3: seven from usage reports, four from sign-in logs.
REPORT_SERVICES = (
    "Exchange",
    "Outlook",
    "Teams",
    "OneDrive",
    "SharePoint",
    "Skype for Business",
    "Yammer",
)
SIGN_IN_SERVICES = ("Dynamics 365", "Power BI", "Project", "Visio")
SERVICES = REPORT_SERVICES + SIGN_IN_SERVICES

TASKS = ("roster", "access", "license-info", "differentiation")
RUN_STATUSES = ("running", "succeeded", "failed")
AUTH_MODES = ("delegated", "app")
USER_KINDS = ("person", "service", "shared", "room")
PAYMENT_FREQUENCIES = ("monthly", "annual")
# An apply ends "applied" (licences removed, nobody failed), "partly applied" (some removed,
# some refused) or "failed" (nothing removed); the last two may be applied again.
PLAN_STATUSES = (
    "draft",
    "approved",
    "applying",
    "applied",
    "partly applied",
    "failed",
    "undone",
)
# pending → sent → done | failed, or skipped without a call (DESIGN §6); the same for an undo.
ITEM_STATES = ("pending", "sent", "done", "failed", "skipped")
AUDIT_OUTCOMES = ("ok", "failed", "skipped")
ROLES = ("admin", "viewer")  # web UI and API: admins may change licences, contracts and plans

# Deterministic constraint names, so migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored in UTC and always read back as an aware UTC datetime.

    SQLite has no time zones (SQLAlchemy stores the wall-clock digits), so values are converted
    to UTC before they are stored; naive datetimes are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC; refuse a naive one."""
        del dialect
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored: add a tzinfo")
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, format UTC directly in SQLAlchemy's storage format (2-3x faster in bulk)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is UTC:  # what Graph's "Z" parses to: no offset to take off
                return value.isoformat(" ", "microseconds")[:26]
            offset = value.utcoffset()
            if offset is None:
                raise ValueError(
                    f"naive datetime {value.isoformat()} cannot be stored: add a tzinfo"
                )
            # The same text as SQLAlchemy's SQLite DATETIME, "YYYY-MM-DD HH:MM:SS.ffffff": the
            # UTC wall clock, without the "+HH:MM" suffix that isoformat appends.
            return (value - offset if offset else value).isoformat(" ", "microseconds")[:26]

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored instant as an aware UTC datetime."""
        del dialect
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON that stores Python None as SQL NULL (not the JSON literal null).
_JSON = JSON(none_as_null=True)
_MONEY = Numeric(18, 4)


def _tenant_fk() -> ForeignKey:
    return ForeignKey("tenant.pk", ondelete="CASCADE")


class Base(DeclarativeBase):
    """Declarative base of every seatwise table; all share `metadata`."""

    metadata = metadata
    type_annotation_map = {datetime: UTCDateTime(), Decimal: _MONEY}


class Tenant(Base):
    """A connected Microsoft 365 tenant, named for the CLI, with its encrypted credentials."""

    __tablename__ = "tenant"
    __table_args__ = (_one_of("auth_mode", AUTH_MODES),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String, unique=True)
    tenant_id: Mapped[str] = mapped_column(String)
    client_id: Mapped[str] = mapped_column(String)
    auth_mode: Mapped[str] = mapped_column(String)
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    granted_scopes: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    premium: Mapped[bool | None] = mapped_column(Boolean)
    concealed_names: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Bumped by every successful task and contract edit: caches of every process key on it.
    data_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Roster, Access and Differentiation run daily at this hour (UTC); tasks listed here do not
    # run on schedule (space-separated task names).
    sync_hour: Mapped[int] = mapped_column(Integer, default=2, server_default=text("2"))
    disabled_tasks: Mapped[str] = mapped_column(String, default="", server_default=text("''"))
    # The name of the registration of the same Entra tenant that took over from this one.
    superseded_by: Mapped[str | None] = mapped_column(String)


class User(Base):
    """A directory user; never hard-deleted: `deleted_at` is set when it leaves /users."""

    __tablename__ = "user"
    __table_args__ = (
        Index(None, "tenant_pk", "upn"),
        _one_of("kind", USER_KINDS),
    )

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    id: Mapped[str] = mapped_column(String, primary_key=True)
    upn: Mapped[str] = mapped_column(String)
    mail: Mapped[str | None] = mapped_column(String)
    given_name: Mapped[str | None] = mapped_column(String)
    surname: Mapped[str | None] = mapped_column(String)
    display_name: Mapped[str | None] = mapped_column(String)
    account_enabled: Mapped[bool | None] = mapped_column(Boolean)
    user_type: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime | None]
    country: Mapped[str | None] = mapped_column(String)
    usage_location: Mapped[str | None] = mapped_column(String)
    department: Mapped[str | None] = mapped_column(String)
    job_title: Mapped[str | None] = mapped_column(String)
    on_premises_sync: Mapped[bool | None] = mapped_column(Boolean)
    last_sign_in: Mapped[datetime | None]
    last_interactive_sign_in: Mapped[datetime | None]
    last_non_interactive_sign_in: Mapped[datetime | None]
    mfa_registered: Mapped[bool | None] = mapped_column(Boolean)
    mfa_methods: Mapped[list[str] | None] = mapped_column(_JSON)
    is_admin: Mapped[bool | None] = mapped_column(Boolean)
    first_seen: Mapped[date] = mapped_column(Date)
    deleted_at: Mapped[datetime | None]
    kind: Mapped[str | None] = mapped_column(String)
    fingerprint: Mapped[str] = mapped_column(String)


class Sku(Base):
    """A subscribed SKU with its unit counts; `retired` once it leaves subscribedSkus."""

    __tablename__ = "sku"

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String, primary_key=True)
    part_number: Mapped[str] = mapped_column(String)
    name: Mapped[str | None] = mapped_column(String)
    applies_to: Mapped[str | None] = mapped_column(String)
    capability_status: Mapped[str | None] = mapped_column(String)
    enabled: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    suspended: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    warning: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_out: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    consumed: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    retired: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    fingerprint: Mapped[str] = mapped_column(String)
    updated_at: Mapped[datetime]


class SkuPlan(Base):
    """A service plan included in a SKU; rewritten with its SKU."""

    __tablename__ = "sku_plan"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_pk", "sku_id"], ["sku.tenant_pk", "sku.sku_id"], ondelete="CASCADE"
        ),
    )

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String, primary_key=True)
    plan_id: Mapped[str] = mapped_column(String, primary_key=True)
    plan_name: Mapped[str] = mapped_column(String)
    provisioning_status: Mapped[str | None] = mapped_column(String)
    applies_to: Mapped[str | None] = mapped_column(String)


class LicenseContract(Base):
    """Contract terms entered by the user for a SKU; kept across syncs (no FK to `sku`)."""

    __tablename__ = "license_contract"
    __table_args__ = (_one_of("payment_frequency", PAYMENT_FREQUENCIES),)

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String, primary_key=True)
    cost: Mapped[Decimal | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    payment_frequency: Mapped[str | None] = mapped_column(String)
    effective_date: Mapped[date | None] = mapped_column(Date)
    expiration_date: Mapped[date | None] = mapped_column(Date)
    managed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String)


class LicenseAssignment(Base):
    """A licence held by a user: `via` is '' when direct, else the group's object id."""

    __tablename__ = "license_assignment"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_pk", "user_id"], ["user.tenant_pk", "user.id"], ondelete="CASCADE"
        ),
        Index(None, "tenant_pk", "sku_id", "user_id"),  # covers the Users view's licence filter
    )

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    user_id: Mapped[str] = mapped_column(String, primary_key=True)
    sku_id: Mapped[str] = mapped_column(String, primary_key=True)
    via: Mapped[str] = mapped_column(String, primary_key=True)
    disabled_plans: Mapped[list[str]] = mapped_column(_JSON)
    state: Mapped[str | None] = mapped_column(String)
    error: Mapped[str | None] = mapped_column(String)
    last_updated: Mapped[datetime | None]


class ServiceActivity(Base):
    """A user's last activity in one of the 11 services, true as of `as_of`.

    No FK to `user`: reports and sign-in logs name users the roster may not hold (yet).
    """

    __tablename__ = "service_activity"
    __table_args__ = (
        Index(None, "tenant_pk", "service", "last_activity"),
        _one_of("service", SERVICES),
    )

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    user_id: Mapped[str] = mapped_column(String, primary_key=True)
    service: Mapped[str] = mapped_column(String, primary_key=True)
    last_activity: Mapped[date | None] = mapped_column(Date)
    licensed: Mapped[bool | None] = mapped_column(Boolean)
    license_assigned: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String)
    as_of: Mapped[date] = mapped_column(Date)
    available: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class UsageSnapshot(Base):
    """One day of a user's storage, platforms and activations; pruned by retention."""

    __tablename__ = "usage_snapshot"
    __table_args__ = (Index(None, "tenant_pk", "day"),)

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    user_id: Mapped[str] = mapped_column(String, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    mail_mb: Mapped[float | None] = mapped_column(Float)
    onedrive_mb: Mapped[float | None] = mapped_column(Float)
    windows: Mapped[bool | None] = mapped_column(Boolean)
    mac: Mapped[bool | None] = mapped_column(Boolean)
    mobile: Mapped[bool | None] = mapped_column(Boolean)
    web: Mapped[bool | None] = mapped_column(Boolean)
    activations: Mapped[int | None] = mapped_column(Integer)
    exchange_active: Mapped[bool | None] = mapped_column(Boolean)
    onedrive_active: Mapped[bool | None] = mapped_column(Boolean)


class Activation(Base):
    """Microsoft 365 Apps activations of a user per product type, with device counts."""

    __tablename__ = "activation"

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    user_id: Mapped[str] = mapped_column(String, primary_key=True)
    product_type: Mapped[str] = mapped_column(String, primary_key=True)
    last_activated: Mapped[date | None] = mapped_column(Date)
    windows: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    mac: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    windows10_mobile: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    ios: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    android: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    shared_computer: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SignInSummary(Base):
    """A user's sign-ins to one service within the window pulled from the audit log."""

    __tablename__ = "sign_in_summary"

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    user_id: Mapped[str] = mapped_column(String, primary_key=True)
    service: Mapped[str] = mapped_column(String, primary_key=True)
    last_sign_in: Mapped[datetime | None]
    sign_ins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    window_start: Mapped[datetime]


class ReportRefresh(Base):
    """The `Report Refresh Date` of each usage report, when it was fetched and its row count."""

    __tablename__ = "report_refresh"

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    report: Mapped[str] = mapped_column(String, primary_key=True)
    refresh_date: Mapped[date | None] = mapped_column(Date)
    fetched_at: Mapped[datetime]
    concealed: Mapped[bool | None] = mapped_column(Boolean)
    rows: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class LicenseUsage(Base):
    """License Differentiation: per SKU and included service, holders and active users."""

    __tablename__ = "license_usage"

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String, primary_key=True)
    service: Mapped[str] = mapped_column(String, primary_key=True)
    holders: Mapped[int] = mapped_column(Integer)
    active_users: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date | None] = mapped_column(Date)


class UserSummary(Base):
    """The Users view as a table: each user's columns, derived ones included (last activity and
    app, latest storage and platforms, licence and activation counts), rewritten after each sync
    where they changed, so the view filters, sorts and pages with indexes and no joins.
    """

    __tablename__ = "user_summary"

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    user_id: Mapped[str] = mapped_column(String, primary_key=True)
    upn: Mapped[str] = mapped_column(String)
    mail: Mapped[str | None] = mapped_column(String)
    given_name: Mapped[str | None] = mapped_column(String)
    surname: Mapped[str | None] = mapped_column(String)
    display_name: Mapped[str | None] = mapped_column(String)
    account_enabled: Mapped[bool | None] = mapped_column(Boolean)
    mfa_registered: Mapped[bool | None] = mapped_column(Boolean)
    last_sign_in: Mapped[datetime | None] = mapped_column()  # named in an index below
    deleted_at: Mapped[datetime | None]
    on_premises_sync: Mapped[bool | None] = mapped_column(Boolean)
    guest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    job_title: Mapped[str | None] = mapped_column(String)
    country: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime | None]
    active_date: Mapped[date | None] = mapped_column(Date)
    last_activity: Mapped[date | None] = mapped_column(Date)
    last_used_app: Mapped[str | None] = mapped_column(String)
    activity_as_of: Mapped[date | None] = mapped_column(Date)
    mail_mb: Mapped[float | None] = mapped_column(Float)
    onedrive_mb: Mapped[float | None] = mapped_column(Float)
    windows: Mapped[bool | None] = mapped_column(Boolean)
    mac: Mapped[bool | None] = mapped_column(Boolean)
    mobile: Mapped[bool | None] = mapped_column(Boolean)
    web: Mapped[bool | None] = mapped_column(Boolean)
    licenses: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    activations: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The user's share of the licence/service counts (License Differentiation): the services
    # each licence gives and the days they were last used, so a later run updates the counts
    # from the users whose rows changed, taking out their old share and adding the new.
    usage_share: Mapped[str | None] = mapped_column(Text)

    # A page of the view is read from one of these indexes alone, never from the wide rows: each
    # is ordered by a sort column, then by user_id (the view's tie-break), and carries every column
    # the view filters on. Dates and sizes are descending, the order they are usually viewed in
    # (newest, largest first), so that order needs no sort step for ties.
    __table_args__ = tuple(
        Index(
            f"ix_user_summary_page_{key}",
            "tenant_pk",
            order,
            "user_id",
            *(
                c
                for c in (
                    "upn",
                    "last_activity",
                    "country",
                    "mfa_registered",
                    "guest",
                    "account_enabled",
                )
                if c != key
            ),
        )
        for key, order in (
            ("upn", "upn"),
            ("display_name", "display_name"),
            ("last_activity", last_activity.desc()),
            ("last_sign_in", last_sign_in.desc()),
            ("mail_mb", mail_mb.desc()),
            ("onedrive_mb", onedrive_mb.desc()),
        )
    )


class TaskRun(Base):
    """One run of an integration task: status, counts, notes for the user, error, duration."""

    __tablename__ = "task_run"
    __table_args__ = (
        Index(None, "tenant_pk", "task", "started_at"),
        _one_of("status", RUN_STATUSES),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_pk: Mapped[int] = mapped_column(_tenant_fk())
    task: Mapped[str] = mapped_column(String)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String)
    counts: Mapped[dict[str, int]] = mapped_column(_JSON)
    notes: Mapped[list[str]] = mapped_column(_JSON)
    error: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)


class SyncCursor(Base):
    """Incremental-sync state (delta link, sign-in watermark), committed with its data."""

    __tablename__ = "sync_cursor"

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    name: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class ReclaimPlan(Base):
    """A reclamation plan (DESIGN §6): made, approved, applied and perhaps undone, by whom and
    when; `realised` holds the annual savings per currency once removals are done."""

    __tablename__ = "reclaim_plan"
    __table_args__ = (_one_of("status", PLAN_STATUSES),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), index=True)
    status: Mapped[str] = mapped_column(String)
    rules: Mapped[list[str]] = mapped_column(_JSON)
    only_managed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String)
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String)
    applied_at: Mapped[datetime | None]
    applied_by: Mapped[str | None] = mapped_column(String)
    realised: Mapped[dict[str, str] | None] = mapped_column(_JSON)


class ReclaimItem(Base):
    """One user of a plan: the licences held when the plan was made (`licences`, each with its
    disabled plans, group and cost), the direct ones to remove, and the state of the removal and
    of its undo, each persisted before and after its Graph call."""

    __tablename__ = "reclaim_item"
    __table_args__ = (
        _one_of("state", ITEM_STATES),
        _one_of("undo_state", ITEM_STATES),
    )

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    plan_pk: Mapped[int] = mapped_column(
        ForeignKey("reclaim_plan.pk", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String, primary_key=True)
    upn: Mapped[str] = mapped_column(String)
    reasons: Mapped[list[str]] = mapped_column(_JSON)
    licences: Mapped[list[dict[str, Any]]] = mapped_column(_JSON)
    remove: Mapped[list[str]] = mapped_column(_JSON)
    last_sign_in: Mapped[datetime | None]
    excluded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The policy excluded the user when the plan was made (named with --user all the same)."""
    state: Mapped[str] = mapped_column(String)
    message: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String)
    undo_state: Mapped[str | None] = mapped_column(String)
    undo_message: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class AuditEvent(Base):
    """One action on a tenant, who did it and when, with the licence state before and after and
    Graph's request id. Append-only: the migration adds triggers that refuse UPDATE and DELETE,
    and its tenant key has no ON DELETE CASCADE, so a tenant with history cannot be erased."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index(None, "tenant_pk", "at"),
        _one_of("outcome", AUDIT_OUTCOMES),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String)
    tenant_pk: Mapped[int | None] = mapped_column(ForeignKey("tenant.pk"))
    """None for changes that belong to no tenant (local accounts, API tokens)."""
    action: Mapped[str] = mapped_column(String)
    outcome: Mapped[str] = mapped_column(String)
    plan_pk: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(String)
    upn: Mapped[str | None] = mapped_column(String)
    before: Mapped[list[dict[str, Any]] | None] = mapped_column(_JSON)
    after: Mapped[list[dict[str, Any]] | None] = mapped_column(_JSON)
    request_id: Mapped[str | None] = mapped_column(String)
    message: Mapped[str | None] = mapped_column(Text)


class AppUser(Base):
    """A local account of the web UI (not a tenant user): a hashed password and a role."""

    __tablename__ = "app_user"
    __table_args__ = (_one_of("role", ROLES),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String, unique=True)
    password_hash: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(String)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Sessions carry the epoch they began in; signing out or a new password moves it on,
    which ends every session of the account."""


class ApiToken(Base):
    """A bearer token for the reporting API: only its SHA-256 is stored, with a role."""

    __tablename__ = "api_token"
    __table_args__ = (_one_of("role", ROLES),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String)
    token_hash: Mapped[str] = mapped_column(String, unique=True)
    prefix: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String)
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class PendingSignIn(Base):
    """A browser sign-in to a tenant in progress, shared by every web process: the MSAL flow
    (with its PKCE verifier) and a new tenant's client secret, encrypted; found by the SHA-256
    of the id the user's session holds, or of the OAuth `state` the identity platform echoes."""

    __tablename__ = "pending_sign_in"

    key_hash: Mapped[str] = mapped_column(String, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String, index=True)
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)
    answer_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    started_by: Mapped[str] = mapped_column(String)
    started_at: Mapped[datetime]


class SyncLease(Base):
    """Who is syncing a tenant now, across processes and machines: one row per tenant while a
    sync runs, renewed by its holder; a lease past `expires_at` belongs to nobody (a crash)."""

    __tablename__ = "sync_lease"

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    holder: Mapped[str] = mapped_column(String)
    purpose: Mapped[str] = mapped_column(String)
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class SkuSnapshot(Base):
    """One day of a SKU's unit counts, written by License Information for each subscribed
    (non-retired) SKU: the licence history the Overview's trend is drawn from. A later run on
    the same (UTC) day replaces that day's row; days past the history window are pruned."""

    __tablename__ = "sku_snapshot"
    __table_args__ = (Index(None, "tenant_pk", "day"),)

    tenant_pk: Mapped[int] = mapped_column(_tenant_fk(), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    purchased: Mapped[int] = mapped_column(Integer)
    assigned: Mapped[int] = mapped_column(Integer)
    suspended: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    warning: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    locked_out: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
