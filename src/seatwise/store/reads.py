"""The few reads the CLI and the sync need now: tenants by name, recent task runs.

The query layer for the users, licences and activity views lives elsewhere (a later issue).
Imports only `store.schema`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from seatwise.store.schema import TaskRun, Tenant

__all__ = ["only_tenant", "recent_runs", "tenant_by_name"]


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
