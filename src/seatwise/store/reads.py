"""The few reads the CLI, the sync and the web app share: tenants by name, recent task runs,
and the stamp that changes whenever a tenant's data changes.

Each comes as an ORM query on a `Session` and, where a CLI command needs it before it prints,
as a Core query on a `Connection` (`tenant_key_by_name`, `only_tenant_key`,
`recent_run_summaries`) over light views of the two tables, so that the command starts without
building the ORM's mappers. The query layer for the users, licences and activity views lives in
`seatwise.analytics`. Imports only `store.schema`, and that when an ORM query runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text, column, select, table

if TYPE_CHECKING:
    from sqlalchemy import Connection, Executable
    from sqlalchemy.orm import Session

    from seatwise.store.schema import TaskRun, Tenant

__all__ = [
    "TENANT_VIEW",
    "TASK_RUN_VIEW",
    "RunSummary",
    "TenantKey",
    "only_tenant",
    "only_tenant_key",
    "recent_run_summaries",
    "raw_rows",
    "recent_runs",
    "stamp_columns",
    "sync_stamp",
    "tenant_by_name",
    "tenant_key_by_name",
]

# Core views of `store.schema`'s `tenant` and `task_run`: the columns the Core reads use, typed
# as the schema types them (tests/cli/test_startup.py checks that they still match).
TENANT_VIEW = table(
    "tenant",
    column("pk", Integer),
    column("name", String),
    column("superseded_by", String),
)
TASK_RUN_VIEW = table(
    "task_run",
    column("pk", Integer),
    column("tenant_pk", Integer),
    column("task", String),
    column("started_at", DateTime(timezone=True)),
    column("status", String),
    column("notes", JSON(none_as_null=True)),
    column("error", Text),
    column("duration_s", Float),
)


class TenantKey(NamedTuple):
    """A tenant's key and CLI name."""

    pk: int
    name: str


class RunSummary(NamedTuple):
    """A task run as `seatwise tasks` lists it; `started_at` is an aware UTC datetime."""

    started_at: datetime
    task: str
    status: str
    duration_s: float | None
    error: str | None
    notes: list[str] | None


def raw_rows(connection: Connection, query: Executable) -> Sequence[Any]:
    """The rows of `query` straight from the driver, without SQLAlchemy's result processing
    (SQLite gives dates and times as the stored text, flags as 0/1): for reads of hundreds of
    thousands of rows."""
    result = connection.execute(query)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def tenant_by_name(session: Session, name: str) -> Tenant | None:
    """The tenant with this CLI name, or None."""
    from seatwise.store.schema import Tenant

    return session.scalar(select(Tenant).where(Tenant.name == name))


def only_tenant(session: Session) -> Tenant | None:
    """The single tenant when exactly one exists, not counting registrations superseded by a
    newer one (so `--tenant` may be left out), else None."""
    from seatwise.store.schema import Tenant

    key = only_tenant_key(session.connection())
    return None if key is None else session.get(Tenant, key.pk)


def recent_runs(session: Session, tenant_pk: int, limit: int = 20) -> Sequence[TaskRun]:
    """The tenant's latest task runs, newest first."""
    from seatwise.store.schema import TaskRun

    query = (
        select(TaskRun)
        .where(TaskRun.tenant_pk == tenant_pk)
        .order_by(TaskRun.started_at.desc(), TaskRun.pk.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


def tenant_key_by_name(connection: Connection, name: str) -> TenantKey | None:
    """`tenant_by_name` without the ORM: the key and name of the tenant with this CLI name."""
    t = TENANT_VIEW.c
    row = connection.execute(select(t.pk, t.name).where(t.name == name)).first()
    return None if row is None else TenantKey(row.pk, row.name)


def only_tenant_key(connection: Connection) -> TenantKey | None:
    """`only_tenant` without the ORM: the key and name of the single tenant not superseded by
    a newer registration, or None when there are several or none."""
    t = TENANT_VIEW.c
    rows = connection.execute(select(t.pk, t.name).where(t.superseded_by.is_(None)).limit(2)).all()
    return TenantKey(rows[0].pk, rows[0].name) if len(rows) == 1 else None


def recent_run_summaries(
    connection: Connection, tenant_pk: int, limit: int = 20
) -> list[RunSummary]:
    """`recent_runs` without the ORM: the tenant's latest task runs, newest first."""
    r = TASK_RUN_VIEW.c
    query = (
        select(r.started_at, r.task, r.status, r.duration_s, r.error, r.notes)
        .where(r.tenant_pk == tenant_pk)
        .order_by(r.started_at.desc(), r.pk.desc())
        .limit(limit)
    )
    return [
        RunSummary(_utc(row.started_at), row.task, row.status, row.duration_s, row.error, row.notes)
        for row in connection.execute(query)
    ]


def _utc(value: datetime) -> datetime:
    """A stored instant as an aware UTC datetime, as `store.schema.UTCDateTime` reads it."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stamp_columns(tenant_pk: Any) -> tuple[Any]:
    """`sync_stamp` as a scalar subquery over `tenant_pk` (a value or a column), to read it with
    other columns in one statement."""
    from seatwise.store.schema import Tenant

    return (select(Tenant.data_version).where(Tenant.pk == tenant_pk).scalar_subquery(),)


def sync_stamp(session: Session, tenant_pk: int) -> int:
    """What changes whenever the tenant's data changes: its data version, which every
    successful task and every contract edit moves on in the transaction that changes the data.
    Two equal stamps, in any process on any machine, mean the same data."""
    return int(session.connection().execute(select(*stamp_columns(tenant_pk))).scalar_one())
