"""The Tasks page: each integration task's recent runs for the chosen tenant (from `task_run`, as
`seatwise tasks` lists them) and "Run now" (admins only; one sync per tenant at a time). On
SQLite Run now starts the sync in the web process's background runner; on PostgreSQL it queues
jobs for `seatwise worker` and returns at once, and the page lists the queued, running, retried
and finished jobs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from seatwise.errors import SyncBusy, UsageError
from seatwise.store import reads
from seatwise.store.schema import TaskRun, Tenant
from seatwise.sync import TASK_TITLES, TASKS
from seatwise.sync.lease import current_lease
from seatwise.web.render import page
from seatwise.web.runner import runner_for
from seatwise.web.security import Admin, Csrf, User
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants, pick_tenant
from seatwise.workspace import queue
from seatwise.workspace.accounts import Principal

router = APIRouter(include_in_schema=False)

RECENT = 40
REFRESH_SECONDS = 2
CHANGED = ("written", "deleted", "pruned", "retired")


def _summary(counts: dict[str, int]) -> tuple[str, int]:
    """(items read, rows changed) of a run's counts, as `seatwise sync` summarises them."""
    items = ", ".join(
        f"{k} {v:,}" for k, v in counts.items() if v and ":" not in k and not k.endswith(CHANGED)
    )
    return items, sum(v for k, v in counts.items() if k.endswith(CHANGED))


def _run_view(run: TaskRun, now: datetime) -> dict[str, Any]:
    items, changed = _summary(run.counts or {})
    seconds = run.duration_s
    if seconds is None and run.status == "running":
        seconds = (now - run.started_at).total_seconds()
    return {
        "task": TASK_TITLES.get(run.task, run.task),
        "status": run.status,
        "started": run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        "seconds": "" if seconds is None else f"{seconds:.1f}",
        "read": items,
        "changed": changed,
        "notes": " ".join(run.notes or []),
        "error": run.error,
    }


def _job_view(job: dict[str, Any]) -> dict[str, Any]:
    """A job of the queue as the page lists it."""

    def moment(value: Any) -> str:
        return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else ""

    what = TASK_TITLES.get(job["task"], job["task"])
    if job["kind"] != "sync":
        what = f"{job['kind'].capitalize()} plan {job['plan_pk']}"
    return {
        "id": job["id"],
        "what": what,
        "state": job["state"],
        "retries": job["retries"],
        "started_by": job.get("started_by") or "",
        "queued": moment(job.get("queued_at")),
        "started": moment(job.get("started_at")),
        "finished": moment(job.get("finished_at")),
        "error": job.get("error") or "",
    }


def _latest(session: Session, tenant_pk: int) -> dict[str, TaskRun]:
    latest: dict[str, TaskRun] = {}
    for task in TASKS:
        run = session.scalar(
            select(TaskRun)
            .where(TaskRun.tenant_pk == tenant_pk, TaskRun.task == task)
            .order_by(TaskRun.started_at.desc(), TaskRun.pk.desc())
            .limit(1)
        )
        if run is not None:
            latest[task] = run
    return latest


def _render(
    request: Request,
    user: Principal,
    tenant: Tenant | None,
    tenants: list[Tenant],
    session: Session,
    messages: list[tuple[str, str]],
    status_code: int = 200,
) -> Response:
    now = datetime.now(UTC)
    context: dict[str, Any] = {"messages": messages, "choices": [("all", "All tasks")]}
    context["choices"] += [(t, TASK_TITLES[t]) for t in TASKS]
    if tenant is not None:
        runner = runner_for(request.app)
        job = runner.running(tenant.pk)
        last = runner.last(tenant.pk)
        if job is None and last is not None and last.error and not last.ran:
            # Stopped before any task started (so task_run has no row saying why).
            context["messages"] = [
                *messages,
                ("error", f"The last sync of {tenant.name} stopped: {last.error}"),
            ]
        workspace = web_state(request).workspace
        queued = workspace.is_postgresql
        found = queue.recent_jobs(workspace, tenant.pk, RECENT) if queued else []
        jobs = [_job_view(j) for j in found]
        context.update(queued=queued, jobs=jobs)
        latest = _latest(session, tenant.pk)
        runs = [_run_view(r, now) for r in reads.recent_runs(session, tenant.pk, RECENT)]
        # A sync run by another process (another web worker, `seatwise sync`, a scheduler).
        elsewhere = current_lease(session, tenant.pk) if job is None else None
        context.update(
            job=job,
            elsewhere=elsewhere,
            job_task=TASK_TITLES.get(job.current or "", "") if job else "",
            latest=[
                (TASK_TITLES[t], _run_view(latest[t], now) if t in latest else None) for t in TASKS
            ],
            runs=runs,
            refresh=job is not None
            or elsewhere is not None
            or any(r["status"] == "running" for r in runs)
            or any(j["state"] in ("queued", "running", "retrying") for j in jobs),
            refresh_seconds=REFRESH_SECONDS,
        )
    return page(
        request,
        "tasks.html",
        context,
        user=user,
        tenant=tenant,
        tenants=tenants,
        title="Tasks",
        status_code=status_code,
    )


@router.get("/tasks")
def tasks_page(request: Request, user: User) -> Response:
    """The chosen tenant's task runs, and Run now for admins."""
    flash = request.session.pop("tasks_flash", None)
    messages = [(str(flash[0]), str(flash[1]))] if isinstance(flash, list) else []
    with web_state(request).session() as session:
        tenants = all_tenants(session)
        tenant = pick_tenant(request, session)
        return _render(request, user, tenant, tenants, session, messages)


@router.post("/tasks/run", dependencies=[Csrf])
def run_now(
    request: Request,
    user: Admin,
    tenant: Annotated[str, Form()],
    task: Annotated[str, Form()] = "all",
) -> Response:
    """Start a sync of `task` (or all) for `tenant` in the background; refused (409) while one
    of that tenant runs."""
    if task != "all" and task not in TASKS:
        raise HTTPException(
            422, f"There is no task {task!r}; choose one of: all, {', '.join(TASKS)}."
        )
    with web_state(request).session() as session:
        row = reads.tenant_by_name(session, tenant)
        if row is None:
            raise HTTPException(404, f"There is no tenant called {tenant!r}.")
        tenant_pk, name = row.pk, row.name
    chosen = list(TASKS) if task == "all" else [task]
    what = "all tasks" if task == "all" else TASK_TITLES[task]
    workspace = web_state(request).workspace
    if workspace.is_postgresql:  # the workers run it
        try:
            ids = queue.enqueue_sync(workspace, tenant_pk, chosen, started_by=f"web:{user.name}")
        except (SyncBusy, UsageError) as exc:
            with web_state(request).session() as session:
                tenants = all_tenants(session)
                current = session.get(Tenant, tenant_pk)
                return _render(request, user, current, tenants, session, [("error", str(exc))], 409)
        jobs = ", ".join(str(i) for i in ids)
        request.session["tasks_flash"] = [
            "ok",
            f"Queued {what} for {name} (job {jobs}); a `seatwise worker` runs it.",
        ]
        return RedirectResponse(f"/tasks?{urlencode({'tenant': name})}", status_code=303)
    try:
        job = runner_for(request.app).start(tenant_pk, chosen, user.name)
        busy = None
    except SyncBusy as exc:  # another process (or machine) is syncing it
        job, busy = None, str(exc)
    if job is None:
        message = busy or (
            f"A sync of {name} is already running; wait for it to finish before starting {what}."
        )
        with web_state(request).session() as session:
            tenants = all_tenants(session)
            current = session.get(Tenant, tenant_pk)
            return _render(
                request, user, current, tenants, session, [("error", message)], status_code=409
            )
    request.session["tasks_flash"] = ["ok", f"Started {what} for {name}."]
    return RedirectResponse(f"/tasks?{urlencode({'tenant': name})}", status_code=303)
