"""Loader for recommendations: the tenant's facts (SKUs and plans, contracts, report freshness,
P1, privacy) and every licensed user's facts, read in batches of user ids with four range
queries per batch (no query per user).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from itertools import groupby
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Date, and_, cast, func, select, true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from seatwise.analytics.recommendations.model import (
    Assignment,
    Contract,
    Report,
    Sku,
    Snapshot,
    TenantFacts,
    UserFacts,
)
from seatwise.store.schema import (
    LicenseAssignment,
    LicenseContract,
    ReportRefresh,
    ServiceActivity,
    SkuPlan,
    Tenant,
    UsageSnapshot,
    User,
)
from seatwise.store.schema import Sku as SkuRow

__all__ = ["BATCH", "iter_user_facts", "tenant_facts", "user_facts"]

BATCH = 5000
_NONE: frozenset[str] = frozenset()
_NO_ACTIVITY: dict[str, date] = {}


def tenant_facts(session: Session, tenant_pk: int) -> TenantFacts:
    """The tenant-wide facts every rule reads."""
    tenant = session.get(Tenant, tenant_pk)
    plans: dict[str, dict[str, str]] = {}
    for sku_id, plan_id, plan_name in session.execute(
        select(SkuPlan.sku_id, SkuPlan.plan_id, SkuPlan.plan_name).where(
            SkuPlan.tenant_pk == tenant_pk
        )
    ):
        plans.setdefault(sku_id, {})[plan_id] = plan_name
    skus = {
        sku_id: Sku(sku_id, part, plans.get(sku_id, {}))
        for sku_id, part in session.execute(
            select(SkuRow.sku_id, SkuRow.part_number).where(SkuRow.tenant_pk == tenant_pk)
        )
    }
    contracts = {
        row.sku_id: Contract(
            cost=row.cost,
            currency=row.currency,
            payment_frequency=row.payment_frequency,
            effective_date=row.effective_date,
            expiration_date=row.expiration_date,
            managed=bool(row.managed),
        )
        for row in session.execute(
            select(
                LicenseContract.sku_id,
                LicenseContract.cost,
                LicenseContract.currency,
                LicenseContract.payment_frequency,
                LicenseContract.effective_date,
                LicenseContract.expiration_date,
                LicenseContract.managed,
            ).where(LicenseContract.tenant_pk == tenant_pk)
        )
    }
    reports = tuple(
        Report(name, refresh, concealed)
        for name, refresh, concealed in session.execute(
            select(ReportRefresh.report, ReportRefresh.refresh_date, ReportRefresh.concealed)
            .where(ReportRefresh.tenant_pk == tenant_pk)
            .order_by(ReportRefresh.report)
        )
    )
    return TenantFacts(
        name=tenant.name if tenant else "",
        premium=tenant.premium if tenant else None,
        concealed_names=tenant.concealed_names if tenant else None,
        skus=skus,
        contracts=contracts,
        reports=reports,
    )


def _plan_ids(value: Any) -> frozenset[str]:
    """Disabled plan ids from the JSON column: text on SQLite (mostly '[]'), a list on
    PostgreSQL, whose driver decodes JSON itself."""
    if not value or value == "[]":
        return _NONE
    return frozenset(orjson.loads(value) if isinstance(value, str) else value)


def _date(value: Any) -> date:
    """A DATE from the driver: ISO text on SQLite, a `date` on PostgreSQL."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _flag(value: Any) -> bool | None:
    """A BOOLEAN from the driver: 0/1 on SQLite, a `bool` on PostgreSQL."""
    return None if value is None else bool(value)


def _utc_day(column: Any, dialect: str) -> ColumnElement[Any]:
    """A UTC timestamp column as its UTC date, computed by the database (cheaper than making
    100k aware datetimes in Python only to drop their time)."""
    if dialect == "sqlite":  # stored as UTC wall-clock text "YYYY-MM-DD HH:MM:SS.ffffff"
        return func.date(column)
    return cast(func.timezone("UTC", column), Date)


def _in_range(table: Any, tenant_pk: int, first: str, last: str) -> ColumnElement[bool]:
    return and_(table.tenant_pk == tenant_pk, table.user_id >= first, table.user_id <= last)


def _driver_rows(connection: Connection, stmt: ClauseElement) -> list[tuple[Any, ...]]:
    """The rows of `stmt` as plain tuples from the database driver, with no type processing.

    Executed through `exec_driver_sql`, so SQLAlchemy's events and error translation apply;
    the rows are then fetched from the driver's cursor, which on a million activity rows is
    about twice as fast as SQLAlchemy rows with result processors. The caller makes the few
    conversions needed. The statement's bound values are plain (ids, keys).
    """
    compiled = stmt.compile(dialect=connection.dialect)
    params: Any = compiled.construct_params()
    if isinstance(compiled, SQLCompiler) and compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup or ())
    sql = str(compiled)
    result = connection.exec_driver_sql(sql, params)
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        return list(result.cursor.fetchall())
    except dbapi_error as exc:  # the same translation SQLAlchemy gives errors of execute()
        raise DBAPIError.instance(sql, params, exc, dbapi_error) from exc
    finally:
        result.close()


def _same(value: Any) -> Any:
    return value


def user_facts(session: Session, tenant_pk: int, first: str, last: str) -> list[UserFacts]:
    """Facts of the licensed users whose ids lie in [first, last], ordered by id.

    Four statements, each a range scan of a primary key. This loop runs for every user of a
    300k-user tenant, so conversions are inlined rather than called.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    # SQLite hands dates over as ISO text and booleans as 0/1; PostgreSQL as date and bool.
    to_date: Any = date.fromisoformat if dialect == "sqlite" else _same
    assignments: dict[str, list[Assignment]] = {}
    for user_id, sku_id, via, disabled, updated in _driver_rows(
        connection,
        select(
            LicenseAssignment.user_id,
            LicenseAssignment.sku_id,
            LicenseAssignment.via,
            LicenseAssignment.disabled_plans,
            _utc_day(LicenseAssignment.last_updated, dialect),
        ).where(_in_range(LicenseAssignment, tenant_pk, first, last)),
    ):
        assignments.setdefault(user_id, []).append(
            Assignment(sku_id, via, _plan_ids(disabled), updated and to_date(updated))
        )
    # Only dated rows: an undated one says "never used" or "cannot be observed" (Visio), which
    # the rules read from the service's absence; often half the rows are such.
    rows = _driver_rows(
        connection,
        select(ServiceActivity.user_id, ServiceActivity.service, ServiceActivity.last_activity)
        .where(
            _in_range(ServiceActivity, tenant_pk, first, last),
            ServiceActivity.last_activity.is_not(None),
            ServiceActivity.available.is_(true()),
        )
        .order_by(ServiceActivity.user_id),
    )
    activity = {
        user_id: {service: to_date(day) for _, service, day in group}
        for user_id, group in groupby(rows, itemgetter(0))
    }
    del rows
    snapshots = _latest_snapshots(connection, tenant_pk, first, last)
    users = _driver_rows(
        connection,
        select(
            User.id,
            User.upn,
            User.account_enabled,
            User.user_type,
            User.kind,
            _utc_day(User.created_at, dialect),
            _utc_day(User.deleted_at, dialect),
            User.on_premises_sync,
            User.mfa_registered,
            _utc_day(User.last_sign_in, dialect),
        )
        .where(User.tenant_pk == tenant_pk, User.id >= first, User.id <= last)
        .order_by(User.id),
    )
    return [
        UserFacts(
            id=user_id,
            upn=upn,
            account_enabled=None if enabled is None else bool(enabled),
            user_type=user_type,
            kind=kind,
            created=created and to_date(created),
            deleted=deleted and to_date(deleted),
            on_premises_sync=None if synced is None else bool(synced),
            mfa_registered=None if mfa is None else bool(mfa),
            last_sign_in=signed_in and to_date(signed_in),
            assignments=tuple(assignments[user_id]),
            activity=activity.get(user_id, _NO_ACTIVITY),
            snapshot=snapshots.get(user_id),
        )
        for (user_id, upn, enabled, user_type, kind, created, deleted, synced, mfa, signed_in) in (
            users
        )
        if user_id in assignments  # only licensed users can be recommended anything
    ]


def _latest_snapshots(
    connection: Connection, tenant_pk: int, first: str, last: str
) -> dict[str, Snapshot]:
    """Each licensed user's latest snapshot: per user, one index seek for the latest day and
    one for its row (not a scan of the whole history)."""
    users = (
        select(LicenseAssignment.user_id)
        .where(_in_range(LicenseAssignment, tenant_pk, first, last))
        .distinct()
        .subquery()
    )
    days = UsageSnapshot.__table__.alias("days")
    latest = (
        select(func.max(days.c.day))
        .where(days.c.tenant_pk == tenant_pk, days.c.user_id == users.c.user_id)
        .scalar_subquery()
    )
    query = (
        select(
            UsageSnapshot.user_id,
            UsageSnapshot.day,
            UsageSnapshot.mail_mb,
            UsageSnapshot.onedrive_mb,
            UsageSnapshot.windows,
            UsageSnapshot.mac,
            UsageSnapshot.mobile,
            UsageSnapshot.web,
        )
        .select_from(users)
        .join(
            UsageSnapshot,
            and_(
                UsageSnapshot.tenant_pk == tenant_pk,
                UsageSnapshot.user_id == users.c.user_id,
                UsageSnapshot.day == latest,
            ),
        )
    )
    return {
        user_id: Snapshot(
            _date(day), mail, onedrive, _flag(windows), _flag(mac), _flag(mobile), _flag(web)
        )
        for user_id, day, mail, onedrive, windows, mac, mobile, web in _driver_rows(
            connection, query
        )
    }


def iter_user_facts(
    session: Session, tenant_pk: int, batch: int = BATCH
) -> Iterator[list[UserFacts]]:
    """Every licensed user's facts, ordered by id, about `batch` users at a time."""
    after = ""
    while True:
        ids = list(
            session.scalars(
                select(LicenseAssignment.user_id)
                .where(LicenseAssignment.tenant_pk == tenant_pk, LicenseAssignment.user_id > after)
                .group_by(LicenseAssignment.user_id)
                .order_by(LicenseAssignment.user_id)
                .limit(batch)
            )
        )
        if not ids:
            return
        yield user_facts(session, tenant_pk, ids[0], ids[-1])
        after = ids[-1]
