"""Running integration tasks: each in one transaction, recorded in `task_run` before it starts
and marked succeeded or failed (with the reason) when it ends. A failed or killed run leaves the
previous good data intact.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from seatwise.errors import AppError
from seatwise.store import session_scope, writes
from seatwise.store.schema import TaskRun, Tenant
from seatwise.sync import access, differentiation, license_info, roster
from seatwise.sync.context import ProgressFn, SyncOptions, TaskContext, _no_progress
from seatwise.tasknames import TASK_NAMES

if TYPE_CHECKING:
    from seatwise.graph import GraphClient

_RUNNERS: dict[str, Callable[[TaskContext], None]] = {
    "license-info": license_info.run,
    "roster": roster.run,
    "access": access.run,
    "differentiation": differentiation.run,
}
# In dependency order (`seatwise.tasknames`): SKUs first, differentiation last.
TASKS = {name: _RUNNERS[name] for name in TASK_NAMES}
INTERRUPTED = "The run was interrupted before it finished (process stopped or killed)."
# SQLite page cache for a task's connection, in KiB (SQLite's default is 2 MiB): a 100k-user
# tenant's indexes are tens of MB, and inserts into them thrash a small cache.
SQLITE_CACHE_KIB = 64 * 1024


@dataclass
class RunResult:
    """How one task run ended."""

    task: str
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    duration_s: float = 0.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def run_task(
    engine: Engine,
    client: GraphClient,
    tenant_pk: int,
    task: str,
    *,
    clock: Callable[[], datetime] = _utcnow,
    options: SyncOptions | None = None,
    progress: ProgressFn = _no_progress,
) -> RunResult:
    """Run one task for one tenant; raise the task's AppError after recording it as failed."""
    runner = TASKS[task]
    started = clock()
    with session_scope(engine) as session:
        session.execute(
            update(TaskRun)
            .where(
                TaskRun.tenant_pk == tenant_pk, TaskRun.task == task, TaskRun.status == "running"
            )
            .values(status="failed", error=INTERRUPTED, finished_at=started)
        )
        run_pk = writes.start_run(session, tenant_pk, task, started)
    ctx: TaskContext | None = None
    try:
        # BEGIN IMMEDIATE on SQLite: the task is the writer from its first statement on.
        with (
            client.task_deadline((options or SyncOptions()).task_deadline_s),
            session_scope(engine, immediate=True) as session,
            bulk_work(session),
        ):
            tenant = session.get(Tenant, tenant_pk)
            if tenant is None:
                raise AppError(f"There is no tenant {tenant_pk} in the database.")
            ctx = TaskContext(
                task=task,
                session=session,
                client=client,
                tenant=tenant,
                now=started,
                options=options or SyncOptions(),
                progress=progress,
            )
            runner(ctx)
            if task != "differentiation" and ctx.changed_data():
                differentiation.inputs_changed(session, tenant_pk, started, ctx.touched)
            writes.bump_data_version(session, tenant_pk)
            notes = ctx.finish_notes()
            writes.finish_run(session, run_pk, "succeeded", ctx.counts, notes, None, clock())
        return RunResult(
            task, "succeeded", ctx.counts, ctx.notes, None, (clock() - started).total_seconds()
        )
    except BaseException as exc:
        # Never the exception's text unless it is ours: a driver's may quote users' data.
        message = (
            str(exc)
            if isinstance(exc, AppError)
            else f"Internal error ({type(exc).__name__}); this is a bug in seatwise."
        )
        if isinstance(exc, KeyboardInterrupt):
            message = INTERRUPTED
        with session_scope(engine) as session:
            writes.finish_run(
                session,
                run_pk,
                "failed",
                ctx.counts if ctx else {},
                ctx.finish_notes() if ctx else [],
                message,
                clock(),
            )
        raise


@contextmanager
def bulk_work(session: Session) -> Iterator[None]:
    """What a task's bulk reads and writes run with: a larger SQLite page cache for the
    task's connection, and the objects alive at the start (modules, SQLAlchemy's metadata,
    ...) left out of the garbage collector's full passes until the task ends."""
    with _page_cache(session), _frozen_heap():
        yield


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """`gc.freeze()` for the task: it allocates millions of objects, so the collector makes
    several full passes, each of which would scan the whole heap again (measured: 15 % of the
    users ingestion). Tasks running at once in one process may unfreeze each other early;
    that costs only the speed."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def _page_cache(session: Session) -> Iterator[None]:
    """A larger SQLite page cache for the task's connection, back to what it was afterwards."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    connection = session.connection()
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with suppress(SQLAlchemyError):  # never hide the task's own error
            connection.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


def run_tasks(
    engine: Engine,
    client: GraphClient,
    tenant_pk: int,
    tasks: Sequence[str],
    **kwargs: object,
) -> list[RunResult]:
    """Run several tasks in dependency order; stop at the first failure (already recorded)."""
    ordered = [t for t in TASKS if t in tasks]
    return [run_task(engine, client, tenant_pk, t, **kwargs) for t in ordered]  # type: ignore[arg-type]
