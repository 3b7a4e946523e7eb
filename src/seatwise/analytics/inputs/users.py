"""The one impure edge of analytics: loading stored facts for views, in batches, as plain dicts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from seatwise.analytics.users import UserFacts
from seatwise.errors import UsageError
from seatwise.skus import product_name
from seatwise.store.schema import (
    Activation,
    LicenseAssignment,
    LicenseContract,
    ReportRefresh,
    ServiceActivity,
    Sku,
    UsageSnapshot,
    User,
    UserSummary,
)

BATCH = 1000


def _dicts(session: Session, stmt: Any) -> list[dict[str, Any]]:
    # Core execution: these are plain column selects, the ORM layer would only add overhead.
    return [dict(row) for row in session.connection().execute(stmt).mappings()]


def sku_names(session: Session, tenant_pk: int) -> dict[str, tuple[str, str]]:
    """skuId → (part number, friendly name) for the tenant's SKUs."""
    return {
        sku_id: (part, name or product_name(sku_id, part))
        for sku_id, part, name in session.execute(
            select(Sku.sku_id, Sku.part_number, Sku.name).where(Sku.tenant_pk == tenant_pk)
        )
    }


def unmanaged_skus(session: Session, tenant_pk: int) -> frozenset[str]:
    """The skuIds the user marked unmanaged: left out of every view and figure unless a view is
    asked to include them."""
    return frozenset(
        session.scalars(
            select(LicenseContract.sku_id).where(
                LicenseContract.tenant_pk == tenant_pk, LicenseContract.managed.is_(False)
            )
        )
    )


def report_dates(session: Session, tenant_pk: int) -> dict[str, date | None]:
    """Each usage report's `Report Refresh Date` as stored by the last sync, by report name."""
    rows = session.execute(
        select(ReportRefresh.report, ReportRefresh.refresh_date).where(
            ReportRefresh.tenant_pk == tenant_pk
        )
    )
    return {row.report: row.refresh_date for row in rows}


def user_facts(
    session: Session,
    tenant_pk: int,
    user_ids: Sequence[str],
    *,
    include_unmanaged: bool = True,
) -> list[UserFacts]:
    """Facts of the given users, in the given order; without the licences of unmanaged SKUs
    unless `include_unmanaged` (the Users view leaves them out, reclamation keeps them)."""
    users = {
        row["id"]: row
        for row in _dicts(
            session,
            select(*User.__table__.c).where(User.tenant_pk == tenant_pk, User.id.in_(user_ids)),
        )
    }
    facts = {uid: UserFacts(users[uid]) for uid in user_ids if uid in users}
    for table, attr in (
        (LicenseAssignment, "assignments"),
        (ServiceActivity, "activity"),
        (Activation, "activations"),
    ):
        for row in _dicts(
            session,
            select(*table.__table__.c).where(
                table.tenant_pk == tenant_pk, table.user_id.in_(user_ids)
            ),
        ):
            if row["user_id"] in facts:
                getattr(facts[row["user_id"]], attr).append(row)
    if not include_unmanaged:
        hidden = unmanaged_skus(session, tenant_pk)
        if hidden:
            for found in facts.values():
                found.assignments = [a for a in found.assignments if a["sku_id"] not in hidden]
    latest = (
        select(UsageSnapshot.user_id, func.max(UsageSnapshot.day).label("day"))
        .where(UsageSnapshot.tenant_pk == tenant_pk, UsageSnapshot.user_id.in_(user_ids))
        .group_by(UsageSnapshot.user_id)
        .subquery()
    )
    for row in _dicts(
        session,
        select(*UsageSnapshot.__table__.c)
        .join(
            latest,
            (UsageSnapshot.user_id == latest.c.user_id) & (UsageSnapshot.day == latest.c.day),
        )
        .where(UsageSnapshot.tenant_pk == tenant_pk),
    ):
        if row["user_id"] in facts:
            facts[row["user_id"]].snapshot = row
    return [facts[uid] for uid in user_ids if uid in facts]


def iter_user_facts(session: Session, tenant_pk: int) -> Iterator[list[UserFacts]]:
    """Every user's facts, ordered by UPN, a batch at a time (300k users never sit in memory)."""
    last_upn = ""
    last_id = ""
    while True:
        ids = list(
            session.scalars(
                select(User.id)
                .where(
                    User.tenant_pk == tenant_pk,
                    (User.upn > last_upn) | ((User.upn == last_upn) & (User.id > last_id)),
                )
                .order_by(User.upn, User.id)
                .limit(BATCH)
            )
        )
        if not ids:
            return
        batch = user_facts(session, tenant_pk, ids)
        yield batch
        last_upn, last_id = batch[-1].user["upn"], batch[-1].user["id"]


@dataclass(frozen=True)
class UserQuery:
    """Filters and order of the Users view; None means "any"."""

    upn: str | None = None  # substring of the UPN, case-insensitive
    license: str | None = None  # skuId or skuPartNumber held (directly or through a group)
    guest: bool | None = None
    blocked: bool | None = None
    mfa: bool | None = None
    inactive_days: int | None = None  # no activity, or none in the last N days
    country: str | None = None
    sort: str = "upn"
    descending: bool = False
    include_unmanaged: bool = False  # show and match licences of unmanaged SKUs too


def _sort_columns() -> dict[str, Any]:
    s = UserSummary
    return {
        "id": s.user_id,
        "upn": s.upn,
        "email": s.mail,
        "first_name": s.given_name,
        "last_name": s.surname,
        "display_name": s.display_name,
        "licenses": s.licenses,
        "active_date": s.active_date,
        "deactivated_date": s.deleted_at,
        "block_credentials": ~s.account_enabled,
        "mfa_enabled": s.mfa_registered,
        "last_used_app": s.last_used_app,
        "last_sign_in": s.last_sign_in,
        "last_activity": s.last_activity,
        "days_since_last_activity": s.last_activity,
        "activations": s.activations,
        "mail_usage_mb": s.mail_mb,
        "onedrive_usage_mb": s.onedrive_mb,
        "windows": s.windows,
        "mac": s.mac,
        "mobile": s.mobile,
        "web": s.web,
        "on_premises_sync": s.on_premises_sync,
        "guest": s.guest,
        "title": s.job_title,
        "country": s.country,
        "account_created": s.created_at,
    }


SORTABLE = tuple(_sort_columns())


def _reference_day(session: Session, tenant_pk: int) -> date | None:
    return session.scalar(
        select(func.max(ReportRefresh.refresh_date)).where(ReportRefresh.tenant_pk == tenant_pk)
    )


def _filtered(session: Session, tenant_pk: int, query: UserQuery) -> Select[Any]:
    """The ids of the matching users, unordered. Only columns that the paging indexes carry are
    read (see `UserSummary`), so a page is found without reading the summary rows; the conditions
    come cheapest first, since SQLite tests them in the order written, row by row.
    """
    s = UserSummary
    stmt = select(s.user_id).where(s.tenant_pk == tenant_pk)
    if query.guest is not None:
        stmt = stmt.where(s.guest.is_(query.guest))
    if query.blocked is not None:
        stmt = stmt.where(s.account_enabled.is_(not query.blocked))
    if query.mfa is not None:
        stmt = stmt.where(s.mfa_registered.is_(query.mfa))
    if query.inactive_days is not None:
        reference = _reference_day(session, tenant_pk)
        if reference is not None:
            cutoff = reference - timedelta(days=query.inactive_days)
            stmt = stmt.where(s.last_activity.is_(None) | (s.last_activity <= cutoff))
    if query.country:
        stmt = stmt.where(func.lower(s.country) == query.country.lower())
    if query.upn:
        stmt = stmt.where(func.lower(s.upn).contains(query.upn.lower(), autoescape=True))
    if query.license:
        wanted = query.license.lower()
        hidden = frozenset() if query.include_unmanaged else unmanaged_skus(session, tenant_pk)
        skus = [
            sku_id
            for sku_id in session.scalars(
                select(Sku.sku_id).where(
                    Sku.tenant_pk == tenant_pk,
                    (func.lower(Sku.sku_id) == wanted) | (func.lower(Sku.part_number) == wanted),
                )
            )
            if sku_id not in hidden
        ]
        # A lookup per candidate in license_assignment's (tenant_pk, sku_id, user_id) index.
        stmt = stmt.where(
            select(LicenseAssignment.user_id)
            .where(
                LicenseAssignment.tenant_pk == tenant_pk,
                LicenseAssignment.sku_id.in_(skus),
                LicenseAssignment.user_id == s.user_id,
            )
            .exists()
        )
    return stmt


def _ordered(stmt: Select[Any], query: UserQuery) -> Select[Any]:
    columns = _sort_columns()
    if query.sort not in columns:
        raise UsageError(f"Cannot sort by {query.sort!r}; sort by one of: {', '.join(SORTABLE)}.")
    column = columns[query.sort]
    descending = query.descending != (query.sort == "days_since_last_activity")
    order = column.desc() if descending else column.asc()
    return stmt.order_by(order.nulls_last(), UserSummary.user_id)


def query_ids(
    session: Session, tenant_pk: int, query: UserQuery, limit: int | None = None, offset: int = 0
) -> list[str]:
    """Ids of the users matching `query`, in its order; a page when `limit` is given."""
    stmt = _ordered(_filtered(session, tenant_pk, query), query)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return list(session.scalars(stmt))


def count(session: Session, tenant_pk: int, query: UserQuery) -> int:
    """How many users match `query`."""
    inner = _filtered(session, tenant_pk, query).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def iter_query_facts(
    session: Session, tenant_pk: int, query: UserQuery
) -> Iterator[list[UserFacts]]:
    """Facts of every matching user in the query's order, a batch at a time (ids only up front)."""
    ids = query_ids(session, tenant_pk, query)
    for start in range(0, len(ids), BATCH):
        yield user_facts(
            session,
            tenant_pk,
            ids[start : start + BATCH],
            include_unmanaged=query.include_unmanaged,
        )
