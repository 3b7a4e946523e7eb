"""`GET /api/v1/task-runs`: the integration tasks' runs (what `seatwise tasks` lists), newest
first, with status, counts, notes, error and duration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from seatwise.store.schema import TaskRun
from seatwise.web.api.common import (
    CSV_RESPONSE,
    ERRORS,
    Format,
    FormatParam,
    JSONAnswer,
    TenantParam,
    filter_values,
    records_answer,
    resolve_tenant,
)
from seatwise.web.api.odata import FilterKind, Page, PageParams, page_params
from seatwise.web.security import ApiPrincipal
from seatwise.web.state import web_state

router = APIRouter(prefix="/api/v1", tags=["task runs"])

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
FILTERS: dict[str, FilterKind] = {"task": "text", "status": "text"}


class TaskRunRecord(BaseModel):
    """One run of an integration task."""

    model_config = ConfigDict(extra="forbid")

    id: int
    task: str = Field(description="roster, access, license-info or differentiation.")
    title: str
    status: str = Field(description="running, succeeded or failed.")
    started_at: str
    finished_at: str | None
    duration_s: float | None
    counts: dict[str, int] = Field(description="Items read and rows written, by kind.")
    notes: list[str]
    error: str | None


class TaskRunPage(Page[TaskRunRecord]):
    """A page of task runs."""


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


@router.get(
    "/task-runs",
    summary="Task runs",
    response_model=TaskRunPage,
    response_class=JSONAnswer,
    responses={**ERRORS, 200: CSV_RESPONSE},
)
def task_runs(
    request: Request,
    _principal: ApiPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    tenant: TenantParam = None,
    filter_: Annotated[
        str | None,
        Query(alias="$filter", description="`task eq 'roster'`, `status eq 'failed'`."),
    ] = None,
    format: FormatParam = Format.json,  # noqa: A002
) -> Response:
    """The tenant's task runs, newest first."""
    from seatwise.sync import TASK_TITLES

    wanted = filter_values(filter_, FILTERS)
    with web_state(request).session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        stmt = select(TaskRun).where(TaskRun.tenant_pk == tenant_pk)
        if "task" in wanted:
            stmt = stmt.where(TaskRun.task == wanted["task"])
        if "status" in wanted:
            stmt = stmt.where(TaskRun.status == wanted["status"])
        stmt = stmt.order_by(TaskRun.started_at.desc(), TaskRun.pk.desc())
        if format is not Format.csv or params.explicit:
            stmt = stmt.limit(params.skip + params.top + 1)
        records = [_record(run, TASK_TITLES) for run in session.scalars(stmt)]
    return records_answer(request, records, params, format, KEYS, "task-runs")
