"""The few reads the CLI, the sync and the web app share: tenants by name, recent task runs,
and the stamp that changes whenever a sync changes a tenant's data.

The query layer for the users, licences and activity views lives in `seatwise.analytics`.
Imports only `store.schema`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from seatwise.store.schema import TaskRun, Tenant

__all__ = ["only_tenant", "recent_runs", "stamp_columns", "sync_stamp", "tenant_by_name"]


def tenant_by_name(session: Session, name: str) -> Tenant | None:
    """The tenant with this CLI name, or None."""
    return session.scalar(select(Tenant).where(Tenant.name == name))


def only_tenant(session: Session) -> Tenant | None:
    """The single tenant when exactly one exists (so `--tenant` may be left out), else None."""
    if session.scalar(select(func.count()).select_from(Tenant)) != 1:
        return None
    return session.scalar(select(Tenant))


def recent_runs(session: Session, tenant_pk: int, limit: int = 20) -> Sequence[TaskRun]:
    """The tenant's latest task runs, newest first."""
    query = (
        select(TaskRun)
        .where(TaskRun.tenant_pk == tenant_pk)
        .order_by(TaskRun.started_at.desc(), TaskRun.pk.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


def stamp_columns(tenant_pk: Any) -> tuple[Any, Any]:
    """The two parts of `sync_stamp` as scalar subqueries over `tenant_pk` (a value or a
    column), to read them with other columns in one statement."""
    succeeded = (TaskRun.tenant_pk == tenant_pk) & (TaskRun.status == "succeeded")
    return (
        select(func.count()).where(succeeded).scalar_subquery(),
        select(func.max(TaskRun.finished_at)).where(succeeded).scalar_subquery(),
    )


def sync_stamp(session: Session, tenant_pk: int) -> tuple[int, datetime | None]:
    """What changes whenever a sync changes the tenant's data: the number of its succeeded task
    runs and the latest one's end. A task commits its data and its `succeeded` together, and a
    failed task commits no data, so two equal stamps mean the same synced data."""
    count, latest = session.connection().execute(select(*stamp_columns(tenant_pk))).one()
    return int(count), latest
