"""The `task_runs` entity set (also at `/task-runs`): the integration tasks' runs (what
`seatwise tasks` lists), newest first, with status, counts, notes, error and duration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from seatwise.store.schema import TaskRun
from seatwise.web.api.common import register, resolve_tenant
from seatwise.web.api.edm import DATETIME, EntitySet
from seatwise.web.state import web_state

routes = APIRouter(prefix="/api/v1", tags=["task runs"])

KEYS = (
    "id",
    "task",
    "title",
    "status",
    "started_at",
    "finished_at",
    "duration_s",
    "counts",
    "notes",
    "error",
)


class TaskRunRecord(BaseModel):
    """One run of an integration task."""

    model_config = ConfigDict(extra="forbid")

    id: int
    task: str = Field(description="roster, access, license-info or differentiation.")
    title: str
    status: str = Field(description="running, succeeded or failed.")
    started_at: Annotated[str, DATETIME]
    finished_at: Annotated[str | None, DATETIME]
    duration_s: float | None
    counts: dict[str, int] = Field(description="Items read and rows written, by kind.")
    notes: list[str]
    error: str | None


TASK_RUNS = EntitySet("task_runs", TaskRunRecord, ("id",), KEYS, "Task runs")


def _record(run: TaskRun, titles: dict[str, str]) -> dict[str, Any]:
    return {
        "id": run.pk,
        "task": run.task,
        "title": titles.get(run.task, run.task),
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_s": run.duration_s,
        "counts": dict(run.counts or {}),
        "notes": list(run.notes or []),
        "error": run.error,
    }


def _load(request: Request, tenant: str | None) -> Iterator[dict[str, Any]]:
    from seatwise.sync import TASK_TITLES

    with web_state(request).session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        stmt = (
            select(TaskRun)
            .where(TaskRun.tenant_pk == tenant_pk)
            .order_by(TaskRun.started_at.desc(), TaskRun.pk.desc())
        )
        records = [_record(run, TASK_TITLES) for run in session.scalars(stmt)]
    yield from records


register(
    routes,
    TASK_RUNS,
    _load,
    summary="Task runs",
    description="The tenant's task runs, newest first.",
    paths=("/task-runs",),
)
