"""The job queue of a PostgreSQL installation (Procrastinate): what the front ends call to queue
syncs and reclamation jobs, to queue the due tasks of the schedules, and to list jobs; the
`seatwise worker` processes run them. Needs PostgreSQL (`ConfigError` on SQLite).

Each integration task of a tenant is one job, queued by task name (no front end imports the
worker): lock `tenant-<pk>` (one job of a tenant runs at a time, on any machine), queueing lock
`sync-<pk>-<task>` (one waiting job per task). Queuing takes a per-tenant advisory lock and looks
at the jobs waiting and running, so two processes queuing at once never queue a task twice.
Procrastinate's tables live beside seatwise's (the search path of the database URL); the first
process that needs them makes them, under an advisory lock. Imports no front end.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager
from psycopg.conninfo import make_conninfo
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import Session

from seatwise.errors import ConfigError, PlanError, SyncBusy, UsageError
from seatwise.store.schema import ReclaimPlan, TaskRun, Tenant
from seatwise.store.writes import finish_run, start_run
from seatwise.sync import TASK_TITLES, TASKS
from seatwise.workspace.core import Workspace
from seatwise.workspace.schedules import disabled_tasks, due_tasks, due_tenants
from seatwise.workspace.syncing import check_syncable, ordered_tasks

__all__ = [
    "PLAN_TASK",
    "PRUNE_TASK",
    "QUEUE",
    "RECOVER_PRIORITY",
    "RECOVER_TASK",
    "SCHEDULE_PRIORITY",
    "SCHEDULE_TASK",
    "SYNC_TASK",
    "conninfo",
    "enqueue_apply",
    "enqueue_due",
    "enqueue_sync",
    "enqueue_tick",
    "ensure_queue_schema",
    "make_app",
    "ran_since_queued",
    "recent_jobs",
    "record_refusal",
    "require_postgresql",
    "tenant_lock",
]

log = logging.getLogger(__name__)

QUEUE = "seatwise"
SYNC_TASK = "seatwise.sync"  # one integration task of one tenant
PLAN_TASK = "seatwise.plan"  # apply or undo a reclamation plan
SCHEDULE_TASK = "seatwise.schedule"  # queue the due tasks of every tenant
RECOVER_TASK = "seatwise.recover"  # retry the jobs of workers that stopped beating
PRUNE_TASK = "seatwise.prune"  # forget finished jobs after a while
# Jobs of the schedule run before waiting syncs, so that a busy queue still looks at the clock.
SCHEDULE_PRIORITY = 10
RECOVER_PRIORITY = 20
# Key (first of two int4 keys) of the advisory locks of the queue: with 0 the schema's making,
# with a tenant's pk the queuing of that tenant's jobs.
_LOCK_SPACE = 0x5EA7_0002
_SCHEMA_LOCK = 0
_FINAL = ("succeeded", "failed", "cancelled", "aborted")


def tenant_lock(tenant_pk: int) -> str:
    """The Procrastinate lock of a tenant's jobs: one of them runs at a time."""
    return f"tenant-{tenant_pk}"


def _sync_queueing_lock(tenant_pk: int, task: str) -> str:
    return f"sync-{tenant_pk}-{task}"


def _backend(workspace: Workspace) -> str:
    """The database's back end, without opening it (nor making a SQLite file)."""
    engine = workspace.__dict__.get("engine")  # an engine given to, or made by, the workspace
    url = engine.url if engine is not None else make_url(workspace.settings.effective_database_url)
    return str(url.get_backend_name())


def require_postgresql(workspace: Workspace, what: str = "The job queue") -> None:
    """`ConfigError` (one sentence) unless the workspace's database is PostgreSQL."""
    if _backend(workspace) not in ("postgresql", "postgres"):
        raise ConfigError(
            f"{what} needs PostgreSQL: set SEATWISE_DATABASE_URL to a postgresql:// URL (on "
            "SQLite, `seatwise serve` runs the schedules and `seatwise sync` runs tasks at once)."
        )


def conninfo(url: URL | str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (`postgresql+psycopg://…`),
    query parameters (`options=-csearch_path=…`, `sslmode`, …) included."""
    parsed = make_url(url) if isinstance(url, str) else url
    params: dict[str, Any] = {}
    for key, value in parsed.query.items():
        params[key] = value if isinstance(value, str) else ",".join(value)
    parts: dict[str, object] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": parsed.database,
    }
    params.update({key: str(value) for key, value in parts.items() if value not in (None, "")})
    return make_conninfo(**params)


def make_app(workspace: Workspace, *, max_connections: int = 4) -> procrastinate.App:
    """A Procrastinate `App` on the workspace's database, through a psycopg pool of at most
    `max_connections` (opened by whoever runs it: `seatwise worker`). No task is registered:
    the worker registers its own; everything else queues jobs by task name."""
    require_postgresql(workspace)
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(workspace.engine.url),
        min_size=1,
        max_size=max(max_connections, 2),
        kwargs={"connect_timeout": 10},
    )
    return procrastinate.App(connector=connector)


def _version() -> str:
    return f"procrastinate {procrastinate.__version__}"


def ensure_queue_schema(workspace: Workspace) -> None:
    """Make Procrastinate's tables, types and functions in the database's schema unless they
    exist; any number of processes on any machines may call it at once (advisory lock)."""
    require_postgresql(workspace)
    with workspace.engine.begin() as connection:
        if _has_queue(connection):
            _check_version(connection)
            return
        connection.execute(select(func.pg_advisory_xact_lock(_LOCK_SPACE, _SCHEMA_LOCK)))
        if _has_queue(connection):  # made by another process while we waited
            return
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.execute(SchemaManager.get_schema())  # no parameters: sent as one script
        version = _version().replace("'", "")
        raw.execute(f"COMMENT ON TABLE procrastinate_jobs IS '{version}'")
        log.info("Made the job queue's tables (%s)", version)


def _has_queue(connection: Connection) -> bool:
    # pg_class read as a table, with the statement's snapshot: `to_regclass` may answer from a
    # backend's cache that a table made meanwhile by another process has not reached yet.
    return bool(
        connection.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
                " ON n.oid = c.relnamespace WHERE c.relname = 'procrastinate_jobs'"
                " AND n.nspname = current_schema())"
            )
        )
    )


def _check_version(connection: Connection) -> None:
    made_by = connection.scalar(
        text("SELECT obj_description(to_regclass('procrastinate_jobs'), 'pg_class')")
    )
    if made_by and made_by != _version():
        log.warning(
            "The job queue's tables were made by %s and this is %s: if its schema changed in "
            "between, apply Procrastinate's migrations (see docs/deploy.md).",
            made_by,
            _version(),
        )


def _deferrer() -> procrastinate.App:
    """An App that only queues jobs, on a connection it is given (never opens a pool)."""
    return procrastinate.App(connector=procrastinate.SyncPsycopgConnector())


@contextmanager
def _queuing(workspace: Workspace, tenant_pk: int) -> Iterator[Session]:
    """A unit of work holding the tenant's queuing lock (until it ends)."""
    with workspace.session() as session:
        session.execute(select(func.pg_advisory_xact_lock(_LOCK_SPACE, tenant_pk)))
        yield session


def _defer(
    session: Session,
    name: str,
    kwargs: Mapping[str, Any],
    *,
    lock: str | None = None,
    queueing_lock: str | None = None,
    priority: int = 0,
) -> int:
    """Queue one job in the session's transaction; its id."""
    raw = session.connection().connection.dbapi_connection
    deferrer = _deferrer().configure_task(
        name=name,
        lock=lock,
        queueing_lock=queueing_lock,
        queue=QUEUE,
        priority=priority,
        connection=raw,
    )
    return int(deferrer.defer(**kwargs))


def _pending(session: Session, tenant_pk: int) -> list[tuple[str, int, str]]:
    """The tenant's sync jobs waiting or running: (task, job id, status), oldest first."""
    rows = session.execute(
        text(
            "SELECT args->>'task', id, status::text FROM procrastinate_jobs "
            "WHERE lock = :lock AND task_name = :name AND status IN ('todo', 'doing') "
            "ORDER BY id"
        ),
        {"lock": tenant_lock(tenant_pk), "name": SYNC_TASK},
    ).all()
    return [(str(task), int(job_id), str(status)) for task, job_id, status in rows]


def _queued_at(session: Session, tenant_pk: int) -> dict[str, datetime]:
    """When each task of the tenant was last queued (whatever became of the job)."""
    rows = session.execute(
        text(
            "SELECT j.args->>'task', max(e.at) FROM procrastinate_jobs j "
            "JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred' "
            "WHERE j.lock = :lock AND j.task_name = :name GROUP BY j.args->>'task'"
        ),
        {"lock": tenant_lock(tenant_pk), "name": SYNC_TASK},
    ).all()
    return {str(task): at for task, at in rows if at is not None}


def _sync_jobs(
    session: Session, tenant_pk: int, tasks: Sequence[str], started_by: str
) -> list[int]:
    return [
        _defer(
            session,
            SYNC_TASK,
            {"tenant_pk": tenant_pk, "task": task, "started_by": started_by},
            lock=tenant_lock(tenant_pk),
            queueing_lock=_sync_queueing_lock(tenant_pk, task),
        )
        for task in tasks
    ]


def _syncable(session: Session, tenant_pk: int) -> Tenant:
    row = session.get(Tenant, tenant_pk)
    if row is None:
        raise UsageError(f"There is no tenant {tenant_pk} in the database.")
    check_syncable(row)
    return row


def enqueue_sync(
    workspace: Workspace, tenant_pk: int, tasks: Sequence[str], *, started_by: str
) -> list[int]:
    """Queue `tasks` of the tenant, one job each in dependency order; their job ids. Returns at
    once: `seatwise worker` runs them. `SyncBusy` (nothing queued) when one of the tasks is
    queued already; a task running now is queued again, to run after it."""
    ordered = ordered_tasks(tasks)
    ensure_queue_schema(workspace)
    with _queuing(workspace, tenant_pk) as session:
        tenant = _syncable(session, tenant_pk)
        waiting = {
            t: job
            for t, job, status in _pending(session, tenant_pk)
            if t in ordered and status == "todo"
        }
        if waiting:
            listed = ", ".join(f"{TASK_TITLES.get(t, t)} (job {j})" for t, j in waiting.items())
            raise SyncBusy(
                f"Tenant {tenant.name} already has {listed} queued; it runs as soon as a "
                "`seatwise worker` is free."
            )
        try:
            return _sync_jobs(session, tenant_pk, ordered, started_by)
        except AlreadyEnqueued:  # queued meanwhile without our lock: nothing of ours is kept
            raise SyncBusy(
                f"Tenant {tenant.name} already has one of these tasks queued; it runs as soon "
                "as a `seatwise worker` is free."
            ) from None


def enqueue_due(
    workspace: Workspace, now: datetime, *, started_by: str = "the schedule"
) -> dict[str, list[str]]:
    """Queue the tasks of every tenant that `workspace.schedules` finds due at `now`, except
    those waiting or running already, or queued since they last became due (whatever became of
    that job); what was queued, by tenant name."""
    ensure_queue_schema(workspace)
    with workspace.session() as session:
        candidates = due_tenants(session, now)
    queued: dict[str, list[str]] = {}
    for item in candidates:
        try:
            tasks = _enqueue_due_of(workspace, item.tenant_pk, now, started_by)
        except AlreadyEnqueued as exc:  # queued meanwhile without our lock: the next look
            log.info("Not queuing the due tasks of %s now: %s", item.tenant, exc)
            continue
        if tasks:
            queued[item.tenant] = tasks
            log.info("Queued %s for %s", ", ".join(tasks), item.tenant)
    return queued


def _enqueue_due_of(
    workspace: Workspace, tenant_pk: int, now: datetime, started_by: str
) -> list[str]:
    """Queue the tenant's due tasks not waiting, running or queued since they became due."""
    with _queuing(workspace, tenant_pk) as session:
        tenant = session.get(Tenant, tenant_pk)
        if tenant is None or not tenant.active or tenant.superseded_by is not None:
            return []
        last: dict[str, datetime] = {}
        for task, at in session.execute(
            select(TaskRun.task, func.max(TaskRun.started_at))
            .where(TaskRun.tenant_pk == tenant_pk)
            .group_by(TaskRun.task)
        ):
            last[task] = at
        for task, at in _queued_at(session, tenant_pk).items():
            if task not in last or last[task] < at:
                last[task] = at
        due = due_tasks(last, now, sync_hour=tenant.sync_hour, disabled=disabled_tasks(tenant))
        pending = {t for t, _, _ in _pending(session, tenant_pk)}
        tasks = [t for t in due if t not in pending]
        _sync_jobs(session, tenant_pk, tasks, started_by)
        return tasks


def enqueue_tick(workspace: Workspace, at: datetime | None = None) -> int:
    """Queue one look at the schedules as of `at` (default now), as the workers' periodic job
    does every minute; its job id."""
    ensure_queue_schema(workspace)
    moment = at or datetime.now(UTC)
    with workspace.session() as session:
        return _defer(
            session,
            SCHEDULE_TASK,
            {"timestamp": int(moment.timestamp())},
            priority=SCHEDULE_PRIORITY,
        )


def enqueue_apply(
    workspace: Workspace,
    tenant_pk: int,
    plan_pk: int,
    *,
    kind: str,
    actor: str,
    upns: Sequence[str] = (),
) -> int:
    """Queue applying (`kind="apply"`) or undoing (`"undo"`, of every user or those in `upns`)
    a reclamation plan of the tenant; the job id. Resumable: a job stopped midway is retried and
    carries on without sending anything twice. `PlanError` when that plan has a job waiting."""
    if kind not in ("apply", "undo"):
        raise UsageError(f"A plan job applies or undoes a plan, not {kind!r}.")
    ensure_queue_schema(workspace)
    with _queuing(workspace, tenant_pk) as session:
        plan = session.get(ReclaimPlan, plan_pk)
        if plan is None or plan.tenant_pk != tenant_pk:
            raise UsageError(f"There is no plan {plan_pk} for this tenant.")
        waiting = session.scalar(
            text(
                "SELECT id FROM procrastinate_jobs WHERE queueing_lock = :key "
                "AND status IN ('todo', 'doing') ORDER BY id LIMIT 1"
            ),
            {"key": f"plan-{plan_pk}"},
        )
        if waiting is not None:
            raise PlanError(
                f"Plan {plan_pk} already has a job waiting or running (job {waiting}); wait for "
                "it to end."
            )
        return _defer(
            session,
            PLAN_TASK,
            {
                "tenant_pk": tenant_pk,
                "plan_pk": plan_pk,
                "kind": kind,
                "actor": actor,
                "upns": list(upns),
            },
            lock=tenant_lock(tenant_pk),
            queueing_lock=f"plan-{plan_pk}",
        )


def ran_since_queued(workspace: Workspace, job_id: int, tenant_pk: int, task: str) -> bool:
    """Whether a run of `task` that started after job `job_id` was queued has succeeded (a
    sync started meanwhile by `seatwise sync`, the web app or another job): the job has
    nothing left to do."""
    with workspace.session() as session:
        queued = session.scalar(
            text(
                "SELECT min(at) FROM procrastinate_events WHERE job_id = :id AND type = 'deferred'"
            ),
            {"id": job_id},
        )
        if queued is None:
            return False
        newer = session.scalar(
            select(func.count())
            .select_from(TaskRun)
            .where(
                TaskRun.tenant_pk == tenant_pk,
                TaskRun.task == task,
                TaskRun.status == "succeeded",
                TaskRun.started_at > queued,
            )
        )
        return bool(newer)


def record_refusal(workspace: Workspace, tenant_pk: int, task: str, message: str) -> None:
    """Record in `task_run` that a queued task could not start (no usable credentials, tenant
    deactivated): the Tasks page and the overview show why, and the schedule waits for the next
    slot rather than trying every minute."""
    if task not in TASKS:
        return
    now = datetime.now(UTC)
    with workspace.session() as session:
        if session.get(Tenant, tenant_pk) is None:
            return
        run_pk = start_run(session, tenant_pk, task, now)
        finish_run(session, run_pk, "failed", {}, [], message, now)


def _state(status: str, attempts: int) -> str:
    if status == "todo":
        return "retrying" if attempts else "queued"
    if status == "doing":
        return "running"
    return status


def recent_jobs(workspace: Workspace, tenant_pk: int, limit: int = 20) -> list[dict[str, Any]]:
    """The tenant's latest jobs, newest first, as plain dicts: `id`, `kind` (sync, apply,
    undo), `task` (sync task name, or apply/undo), `plan_pk`, `tenant_pk`, `tenant`, `status`
    (Procrastinate's: todo, doing, succeeded, failed, cancelled, aborted), `state` (queued,
    retrying, running, succeeded, failed, cancelled, aborted), `attempts` (runs ended so far),
    `retries` (runs that failed and were tried again),
    `started_by`, `queued_at`, `scheduled_at` (not before), `started_at`, `finished_at` and
    `error` (why its last run failed, from `task_run`, for sync jobs). Empty before any job."""
    require_postgresql(workspace)
    with workspace.session() as session:
        if not _has_queue(session.connection()):
            return []
        tenant = session.get(Tenant, tenant_pk)
        name = tenant.name if tenant is not None else None
        rows = (
            session.execute(
                text(
                    "SELECT j.id, j.task_name, j.status::text AS status, j.attempts, j.args, "
                    "j.scheduled_at, "
                    "(SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = j.id "
                    " AND e.type = 'deferred') AS queued_at, "
                    "(SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id "
                    " AND e.type = 'started') AS started_at, "
                    "(SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id "
                    " AND e.type IN ('succeeded', 'failed', 'cancelled', 'aborted')) "
                    " AS finished_at "
                    "FROM procrastinate_jobs j "
                    "WHERE j.lock = :lock AND j.task_name IN (:sync, :plan) "
                    "ORDER BY j.id DESC LIMIT :limit"
                ),
                {
                    "lock": tenant_lock(tenant_pk),
                    "sync": SYNC_TASK,
                    "plan": PLAN_TASK,
                    "limit": limit,
                },
            )
            .mappings()
            .all()
        )
        jobs = []
        for row in rows:
            args = dict(row["args"] or {})
            sync = row["task_name"] == SYNC_TASK
            status = str(row["status"])
            attempts = int(row["attempts"])
            job = {
                "id": int(row["id"]),
                "kind": "sync" if sync else str(args.get("kind", "apply")),
                "task": str(args.get("task")) if sync else str(args.get("kind", "apply")),
                "plan_pk": None if sync else args.get("plan_pk"),
                "tenant_pk": tenant_pk,
                "tenant": name,
                "status": status,
                "state": _state(status, attempts),
                "attempts": attempts,
                "retries": attempts if status in ("todo", "doing") else max(attempts - 1, 0),
                "started_by": args.get("started_by") if sync else args.get("actor"),
                "queued_at": row["queued_at"],
                "scheduled_at": row["scheduled_at"],
                "started_at": row["started_at"],
                "finished_at": row["finished_at"] if status in _FINAL else None,
                "error": None,
            }
            if sync and row["queued_at"] is not None and (status == "failed" or attempts):
                job["error"] = session.scalar(
                    select(TaskRun.error)
                    .where(
                        TaskRun.tenant_pk == tenant_pk,
                        TaskRun.task == job["task"],
                        TaskRun.status == "failed",
                        TaskRun.started_at >= row["queued_at"],
                    )
                    .order_by(TaskRun.started_at.desc(), TaskRun.pk.desc())
                    .limit(1)
                )
            jobs.append(job)
        return jobs
