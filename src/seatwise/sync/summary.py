"""The Users view as a table: each user's columns with the derived ones (last activity and app,
latest storage and platforms, licence and activation counts), recomputed from the stored rows.

The tenant is read a chunk of users at a time, in id order, together with those users' activity,
assignments, activations and latest snapshot (range queries on the user id), so memory does not
grow with the tenant; License Differentiation counts its holders from the same chunks.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, String, func, select, type_coerce

from seatwise import services
from seatwise.store import reads, writes
from seatwise.store.schema import (
    Activation,
    LicenseAssignment,
    ServiceActivity,
    UsageSnapshot,
    User,
    UserSummary,
)
from seatwise.sync.context import TaskContext

CHUNK = 5000  # users read, summarised and upserted at a time
LISTED = 500  # users of a given list read at a time (ids in one IN list)

COLUMNS = (
    "tenant_pk",
    "user_id",
    "upn",
    "mail",
    "given_name",
    "surname",
    "display_name",
    "account_enabled",
    "mfa_registered",
    "last_sign_in",
    "deleted_at",
    "on_premises_sync",
    "guest",
    "job_title",
    "country",
    "created_at",
    "active_date",
    "last_activity",
    "last_used_app",
    "activity_as_of",
    "mail_mb",
    "onedrive_mb",
    "windows",
    "mac",
    "mobile",
    "web",
    "licenses",
    "activations",
    "usage_share",
)
_ORDER = {name: i for i, name in enumerate(services.SERVICES)}


@dataclass
class Chunk:
    """A run of users (in id order) and what is stored about them, by user id.

    `activity` holds (user id, service, last activity, report date) of available services, the
    dates as stored (ISO text on SQLite, which orders as the dates do; `day` makes them dates);
    `assignments` (sku id, disabled plans as stored, last updated); the disabled plans are left
    undecoded (JSON text on SQLite) so that callers can cache on them.
    """

    users: Sequence[Any]  # rows of the user columns read
    # `within(table.user_id)`: the condition that selects these users' rows of a table
    within: Callable[[Any], ColumnElement[bool]]
    # (user id, service, last activity, report date), dates as the driver gives them: `day`
    activity: dict[str, list[tuple[str, str, Any, Any]]] = field(default_factory=dict)
    assignments: dict[str, list[tuple[str, Any, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    activations: dict[str, int] = field(default_factory=dict)
    snapshots: dict[str, Any] = field(default_factory=dict)  # the latest snapshot's columns
    day: Days = field(default_factory=lambda: Days())


class Days:
    """Date cells to `date`: SQLite gives the stored text (read raw, no regex per row), which
    repeats a few hundred values; PostgreSQL gives dates already."""

    def __init__(self) -> None:
        self.cache: dict[Any, date | None] = {None: None}

    def __call__(self, value: Any) -> date | None:
        try:
            return self.cache[value]
        except KeyError:
            day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
            self.cache[value] = day
            return day


def raw_column(column: Any) -> ColumnElement[Any]:
    """The column without SQLAlchemy's result processing (converted by the caller)."""
    return type_coerce(column, String)


def chunks(ctx: TaskContext, only: Collection[str] | None = None) -> Iterator[Chunk]:
    """The tenant's users (those of `only`, when given), `CHUNK` at a time in id order
    (`LISTED` at a time of `only`), each chunk with its stored facts."""
    pk = ctx.tenant.pk
    connection = ctx.session.connection()  # Core rows: no ORM loading
    day = Days()
    after = ""
    listed = sorted(only) if only is not None else None
    while True:
        part: list[str] | None = None
        if listed is not None:
            if not listed:
                return
            part, listed = listed[:LISTED], listed[LISTED:]
            scope: ColumnElement[bool] = User.id.in_(part)
        else:
            scope = User.id > after
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
            )
            .where(User.tenant_pk == pk, scope)
            .order_by(User.id)
            .limit(CHUNK)
        ).all()
        if not users:
            if listed is None:
                return
            continue
        first, after = users[0].id, users[-1].id
        chunk = Chunk(users, _within(first, after, part), day=day)
        within = chunk.within
        # ~6 rows a user: fetched straight from the driver (no Row objects) in user order.
        raw = reads.raw_rows(
            connection,
            select(
                ServiceActivity.user_id,
                ServiceActivity.service,
                ServiceActivity.last_activity,
                ServiceActivity.as_of,
            )
            .where(
                ServiceActivity.tenant_pk == pk,
                within(ServiceActivity.user_id),
                ServiceActivity.available.is_(True),
            )
            .order_by(ServiceActivity.user_id),
        )
        chunk.activity = {user_id: list(rows) for user_id, rows in groupby(raw, itemgetter(0))}
        del raw
        for user_id, sku_id, disabled, updated in connection.execute(
            select(
                LicenseAssignment.user_id,
                LicenseAssignment.sku_id,
                raw_column(LicenseAssignment.disabled_plans),
                LicenseAssignment.last_updated,
            ).where(
                LicenseAssignment.tenant_pk == pk,
                within(LicenseAssignment.user_id),
            )
        ).all():
            chunk.assignments[user_id].append((sku_id, disabled, updated))
        activated = (
            Activation.windows
            + Activation.mac
            + Activation.windows10_mobile
            + Activation.ios
            + Activation.android
        )
        chunk.activations = dict(
            connection.execute(
                select(Activation.user_id, func.count())
                .where(
                    Activation.tenant_pk == pk,
                    within(Activation.user_id),
                    activated > 0,
                )
                .group_by(Activation.user_id)
            ).all()
        )
        latest = (
            select(UsageSnapshot.user_id, func.max(UsageSnapshot.day).label("day"))
            .where(UsageSnapshot.tenant_pk == pk, within(UsageSnapshot.user_id))
            .group_by(UsageSnapshot.user_id)
            .subquery()
        )
        chunk.snapshots = {
            row.user_id: row
            for row in connection.execute(
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
                    (UsageSnapshot.user_id == latest.c.user_id)
                    & (UsageSnapshot.day == latest.c.day),
                )
                .where(UsageSnapshot.tenant_pk == pk)
            ).all()
        }
        yield chunk


def _within(first: str, last: str, part: list[str] | None) -> Callable[[Any], ColumnElement[bool]]:
    if part is None:
        return lambda column: column.between(first, last)
    return lambda column: column.in_(part)


def write(ctx: TaskContext, chunk: Chunk, shares: Mapping[str, str | None]) -> int:
    """Upsert the `user_summary` rows of a chunk's users, with each user's share of the
    licence/service counts from `shares`; return how many were written (unchanged rows are not
    rewritten)."""
    pk = ctx.tenant.pk
    rows: list[tuple[Any, ...]] = []
    for user in chunk.users:
        user_id = user.id
        top: tuple[Any, int, str, Any] | None = None
        for _, service, day, as_of in chunk.activity.get(user_id, ()):
            if day is None:
                continue
            rank = -_ORDER.get(service, 99)  # on equal days the earlier service in SERVICES wins
            if top is None or (day, rank) > (top[0], top[1]):
                top = (day, rank, service, as_of)
        app, last, seen = (
            (top[2], chunk.day(top[0]), chunk.day(top[3])) if top else (None, None, None)
        )
        held = chunk.assignments.get(user_id, ())
        assigned = [updated for _, _, updated in held if updated is not None]
        start = min(assigned) if assigned else user.created_at
        snap = chunk.snapshots.get(user_id)
        rows.append(
            (
                pk,
                user_id,
                user.upn,
                user.mail,
                user.given_name,
                user.surname,
                user.display_name,
                user.account_enabled,
                user.mfa_registered,
                user.last_sign_in,
                user.deleted_at,
                user.on_premises_sync,
                user.user_type == "Guest",
                user.job_title,
                user.country,
                user.created_at,
                start.date() if start is not None else None,
                last,
                app,
                seen,
                *(
                    (snap.mail_mb, snap.onedrive_mb, snap.windows, snap.mac, snap.mobile, snap.web)
                    if snap
                    else (None,) * 6
                ),
                len({sku_id for sku_id, _, _ in held}),
                chunk.activations.get(user_id, 0),
                shares.get(user_id),
            )
        )
    return writes.upsert_changed_tuples(
        ctx.session,
        UserSummary,
        COLUMNS,
        rows,
        key=("tenant_pk", "user_id"),
        scope=[UserSummary.tenant_pk == pk, chunk.within(UserSummary.user_id)],
    )


def disabled_plans(value: Any) -> list[str]:
    """A `disabled_plans` cell read raw (JSON text on SQLite, a list on PostgreSQL) as a list."""
    if isinstance(value, str):
        decoded = json.loads(value)
        return list(decoded) if isinstance(decoded, list) else []
    return list(value or [])
