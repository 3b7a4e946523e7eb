"""The few reads the CLI, the sync and the web app share: tenants by name, recent task runs,
and the stamp that changes whenever a tenant's data changes.

The query layer for the users, licences and activity views lives in `seatwise.analytics`.
Imports only `store.schema`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from seatwise.store.schema import TaskRun, Tenant

__all__ = ["only_tenant", "recent_runs", "stamp_columns", "sync_stamp", "tenant_by_name"]


def tenant_by_name(session: Session, name: str) -> Tenant | None:
    """The tenant with this CLI name, or None."""
    return session.scalar(select(Tenant).where(Tenant.name == name))


def only_tenant(session: Session) -> Tenant | None:
    """The single tenant when exactly one exists, not counting registrations superseded by a
    newer one (so `--tenant` may be left out), else None."""
    current = Tenant.superseded_by.is_(None)
    if session.scalar(select(func.count()).select_from(Tenant).where(current)) != 1:
        return None
    return session.scalar(select(Tenant).where(current))


def recent_runs(session: Session, tenant_pk: int, limit: int = 20) -> Sequence[TaskRun]:
    """The tenant's latest task runs, newest first."""
    query = (
        select(TaskRun)
        .where(TaskRun.tenant_pk == tenant_pk)
        .order_by(TaskRun.started_at.desc(), TaskRun.pk.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


def stamp_columns(tenant_pk: Any) -> tuple[Any]:
    """`sync_stamp` as a scalar subquery over `tenant_pk` (a value or a column), to read it with
    other columns in one statement."""
    return (select(Tenant.data_version).where(Tenant.pk == tenant_pk).scalar_subquery(),)


def sync_stamp(session: Session, tenant_pk: int) -> int:
    """What changes whenever the tenant's data changes: its data version, which every
    successful task and every contract edit moves on in the transaction that changes the data.
    Two equal stamps, in any process on any machine, mean the same data."""
    return int(session.connection().execute(select(*stamp_columns(tenant_pk))).scalar_one())
