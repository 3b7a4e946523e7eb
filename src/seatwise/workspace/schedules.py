"""When each integration task of a tenant is due: one definition for `seatwise serve`'s
in-process scheduler (SQLite, one machine) and `seatwise worker`'s periodic job (PostgreSQL).

License Information runs every 24 hours. Application Roster, Application Access and License
Differentiation run daily at the hour (UTC) the tenant's settings name, 02:00 by default. A task
never run is due at once. A task switched off for the tenant never runs on schedule (`seatwise
sync` still runs it). License Differentiation follows whenever the roster or access task runs,
since it is derived from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from seatwise.errors import UsageError
from seatwise.reclaim.audit import current_actor, record
from seatwise.store.schema import TaskRun, Tenant
from seatwise.sync import TASKS

__all__ = [
    "DEFAULT_SYNC_HOUR",
    "LICENSE_INFO_EVERY",
    "Due",
    "disabled_tasks",
    "due_tasks",
    "due_tenants",
    "last_slot",
    "set_schedule",
]

LICENSE_INFO_EVERY = timedelta(hours=24)
DEFAULT_SYNC_HOUR = 2
DAILY = ("roster", "access", "differentiation")


@dataclass(frozen=True)
class Due:
    """The tasks of one tenant due now, in dependency order."""

    tenant_pk: int
    tenant: str
    tasks: list[str]


def last_slot(now: datetime, hour: int) -> datetime:
    """The latest daily slot at `hour`:00 (in `now`'s zone) at or before `now`."""
    slot = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return slot if slot <= now else slot - timedelta(days=1)


def due_tasks(
    last_started: Mapping[str, datetime],
    now: datetime,
    *,
    sync_hour: int = DEFAULT_SYNC_HOUR,
    disabled: Iterable[str] = (),
) -> list[str]:
    """The tasks due at `now`, in dependency order, given when each last started (any outcome,
    so a failing task is tried again at its next slot, not every tick)."""
    off = set(disabled)
    slot = last_slot(now, sync_hour)
    due = []
    for task in TASKS:
        if task in off:
            continue
        last = last_started.get(task)
        if last is None:
            due.append(task)
        elif task == "license-info":
            if now - last >= LICENSE_INFO_EVERY:
                due.append(task)
        elif last < slot:
            due.append(task)
    if ("roster" in due or "access" in due) and "differentiation" not in off:
        due.append("differentiation")
    return [t for t in TASKS if t in due]


def disabled_tasks(tenant: Tenant) -> list[str]:
    """The tasks switched off for the tenant's schedule."""
    return [t for t in (tenant.disabled_tasks or "").split() if t in TASKS]


def due_tenants(
    session: Session, now: datetime, *, attempted: Mapping[tuple[int, str], datetime] | None = None
) -> list[Due]:
    """Every active, current tenant with tasks due at `now`. `attempted` adds starts the caller
    made that left no `task_run` row (a sync that failed before its first task)."""
    tenants = session.scalars(
        select(Tenant)
        .where(Tenant.active.is_(True), Tenant.superseded_by.is_(None))
        .order_by(Tenant.pk)
    ).all()
    last: dict[int, dict[str, datetime]] = {}
    for tenant_pk, task, at in session.execute(
        select(TaskRun.tenant_pk, TaskRun.task, func.max(TaskRun.started_at)).group_by(
            TaskRun.tenant_pk, TaskRun.task
        )
    ):
        last.setdefault(tenant_pk, {})[task] = at
    for (tenant_pk, task), at in (attempted or {}).items():
        seen = last.setdefault(tenant_pk, {})
        if task not in seen or seen[task] < at:
            seen[task] = at
    found = []
    for tenant in tenants:
        tasks = due_tasks(
            last.get(tenant.pk, {}),
            now,
            sync_hour=tenant.sync_hour,
            disabled=disabled_tasks(tenant),
        )
        if tasks:
            found.append(Due(tenant.pk, tenant.name, tasks))
    return found


def set_schedule(
    tenant: Tenant,
    *,
    hour: int | None = None,
    enable: Iterable[str] = (),
    disable: Iterable[str] = (),
    actor: str | None = None,
) -> None:
    """Change the tenant's schedule (in the caller's transaction): the daily hour (0–23, UTC)
    and tasks switched on or off. `UsageError` for an hour or a task that does not exist. A
    change is written to the audit log (`tenant.schedule`, by `actor`, default the
    operating-system account) with the schedule before and after."""
    before = {"sync_hour": tenant.sync_hour, "disabled_tasks": " ".join(disabled_tasks(tenant))}
    if hour is not None:
        if not 0 <= hour <= 23:
            raise UsageError(f"The hour of the daily sync is 0 to 23 (UTC), not {hour}.")
        tenant.sync_hour = hour
    off = set(disabled_tasks(tenant))
    for task in (*enable, *disable):
        if task not in TASKS:
            raise UsageError(f"Unknown task {task}; choose from {', '.join(TASKS)}.")
    off = (off - set(enable)) | set(disable)
    tenant.disabled_tasks = " ".join(t for t in TASKS if t in off)
    after = {"sync_hour": tenant.sync_hour, "disabled_tasks": tenant.disabled_tasks}
    session = object_session(tenant)
    if after != before and session is not None:
        record(
            session,
            tenant_pk=tenant.pk,
            actor=actor or current_actor(),
            action="tenant.schedule",
            before=[before],
            after=[after],
            message=f"Schedule of {tenant.name}: daily at {tenant.sync_hour:02d}:00 UTC.",
        )
