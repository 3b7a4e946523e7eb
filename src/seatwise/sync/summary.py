"""The Users view as a table: each user's columns with the derived ones (last activity and app,
latest storage and platforms, licence and activation counts), recomputed from the stored rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from seatwise import services
from seatwise.store import writes
from seatwise.store.schema import (
    Activation,
    LicenseAssignment,
    ServiceActivity,
    UsageSnapshot,
    User,
    UserSummary,
)
from seatwise.sync.context import TaskContext

CHUNK = 5000  # summary rows upserted at a time, so 100k rows never sit in memory at once


def run(ctx: TaskContext) -> None:
    """Write one `user_summary` row per user of the tenant (unchanged rows are not rewritten)."""
    pk = ctx.tenant.pk
    session = ctx.session
    # The latest activity per user, kept as one small tuple each (a 100k tenant has ~700k rows).
    order = {name: i for i, name in enumerate(services.SERVICES)}
    best: dict[str, tuple[date, int, str, date | None]] = {}
    connection = session.connection()  # Core rows: no ORM loading for ~700k rows
    for user_id, service, day, as_of in connection.execute(
        select(
            ServiceActivity.user_id,
            ServiceActivity.service,
            ServiceActivity.last_activity,
            ServiceActivity.as_of,
        ).where(
            ServiceActivity.tenant_pk == pk,
            ServiceActivity.last_activity.is_not(None),
            ServiceActivity.available.is_(True),
        )
    ):
        if day is None:
            continue
        rank = -order.get(service, 99)  # on equal days the earlier service in SERVICES wins
        current = best.get(user_id)
        if current is None or (day, rank) > (current[0], current[1]):
            best[user_id] = (day, rank, service, as_of)
    licences: dict[str, int] = dict(
        session.execute(
            select(LicenseAssignment.user_id, func.count(func.distinct(LicenseAssignment.sku_id)))
            .where(LicenseAssignment.tenant_pk == pk)
            .group_by(LicenseAssignment.user_id)
        ).all()
    )
    activated = (
        Activation.windows
        + Activation.mac
        + Activation.windows10_mobile
        + Activation.ios
        + Activation.android
    )
    activations: dict[str, int] = dict(
        session.execute(
            select(Activation.user_id, func.count())
            .where(Activation.tenant_pk == pk, activated > 0)
            .group_by(Activation.user_id)
        ).all()
    )
    latest = (
        select(UsageSnapshot.user_id, func.max(UsageSnapshot.day).label("day"))
        .where(UsageSnapshot.tenant_pk == pk)
        .group_by(UsageSnapshot.user_id)
        .subquery()
    )
    snapshots = {
        row.user_id: row
        for row in session.execute(
            select(
                UsageSnapshot.user_id,
                UsageSnapshot.mail_mb,
                UsageSnapshot.onedrive_mb,
                UsageSnapshot.windows,
                UsageSnapshot.mac,
                UsageSnapshot.mobile,
                UsageSnapshot.web,
            )
            .join(
                latest,
                (UsageSnapshot.user_id == latest.c.user_id) & (UsageSnapshot.day == latest.c.day),
            )
            .where(UsageSnapshot.tenant_pk == pk)
        )
    }
    first_assigned: dict[str, Any] = dict(
        session.execute(
            select(LicenseAssignment.user_id, func.min(LicenseAssignment.last_updated))
            .where(LicenseAssignment.tenant_pk == pk)
            .group_by(LicenseAssignment.user_id)
        ).all()
    )
    rows: list[dict[str, Any]] = []
    written = 0
    users = connection.execute(
        select(
            User.id,
            User.upn,
            User.mail,
            User.given_name,
            User.surname,
            User.display_name,
            User.account_enabled,
            User.mfa_registered,
            User.last_sign_in,
            User.deleted_at,
            User.on_premises_sync,
            User.user_type,
            User.job_title,
            User.country,
            User.created_at,
        ).where(User.tenant_pk == pk)
    ).all()  # read fully first: the loop writes through the same connection
    for user in users:
        user_id = user.id
        top = best.get(user_id)
        app, last, seen = (top[2], top[0], top[3]) if top else (None, None, None)
        snap = snapshots.get(user_id)
        start = first_assigned.get(user_id) or user.created_at
        rows.append(
            {
                "tenant_pk": pk,
                "user_id": user_id,
                "upn": user.upn,
                "mail": user.mail,
                "given_name": user.given_name,
                "surname": user.surname,
                "display_name": user.display_name,
                "account_enabled": user.account_enabled,
                "mfa_registered": user.mfa_registered,
                "last_sign_in": user.last_sign_in,
                "deleted_at": user.deleted_at,
                "on_premises_sync": user.on_premises_sync,
                "guest": user.user_type == "Guest",
                "job_title": user.job_title,
                "country": user.country,
                "created_at": user.created_at,
                "active_date": start.date() if start is not None else None,
                "last_activity": last,
                "last_used_app": app,
                "activity_as_of": seen,
                "mail_mb": snap.mail_mb if snap else None,
                "onedrive_mb": snap.onedrive_mb if snap else None,
                "windows": snap.windows if snap else None,
                "mac": snap.mac if snap else None,
                "mobile": snap.mobile if snap else None,
                "web": snap.web if snap else None,
                "licenses": licences.get(user_id, 0),
                "activations": activations.get(user_id, 0),
            }
        )
        if len(rows) >= CHUNK:
            written += writes.upsert_rows(session, UserSummary, rows, key=("tenant_pk", "user_id"))
            rows = []
    written += writes.upsert_rows(session, UserSummary, rows, key=("tenant_pk", "user_id"))
    ctx.count("user summaries written", written)
