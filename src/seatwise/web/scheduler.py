"""The in-process scheduler of `seatwise serve` (one machine): License Information every 24 h and
the other integration tasks every `TASK_INTERVAL`, for every active tenant, started through the
web process's `SyncRunner` (so never two syncs of a tenant at once). Started and stopped with the
app's lifespan by `install`; past one machine, `seatwise worker` schedules instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from seatwise.errors import SyncBusy
from seatwise.store import session_scope
from seatwise.store.schema import TaskRun, Tenant
from seatwise.sync import TASKS
from seatwise.web.runner import SyncRunner, runner_for

__all__ = ["LICENSE_INFO_INTERVAL", "TASK_INTERVAL", "TICK", "Scheduler", "install"]

log = logging.getLogger(__name__)

LICENSE_INFO_INTERVAL = timedelta(hours=24)
TASK_INTERVAL = timedelta(hours=24)  # roster, access, differentiation (DESIGN §3: daily)
TICK = 60.0  # seconds between looks at what is due


def _utcnow() -> datetime:
    return datetime.now(UTC)


def intervals(
    license_info: timedelta = LICENSE_INFO_INTERVAL, others: timedelta = TASK_INTERVAL
) -> dict[str, timedelta]:
    """How often each task runs."""
    return {task: license_info if task == "license-info" else others for task in TASKS}


def due_tasks(
    last_started: Mapping[str, datetime], every: Mapping[str, timedelta], now: datetime
) -> list[str]:
    """The tasks due at `now`, in dependency order, given when each last started (any outcome,
    so a failing task is retried once per interval, not every tick). Differentiation follows
    whenever the roster or access task runs, since it is derived from them."""
    due = [
        task
        for task in TASKS
        if task not in last_started or now - last_started[task] >= every[task]
    ]
    if ("roster" in due or "access" in due) and "differentiation" not in due:
        due.append("differentiation")
    return [t for t in TASKS if t in due]


class Scheduler:
    """Looks every `tick` seconds for due tasks of active tenants and starts them."""

    def __init__(
        self,
        engine: Engine,
        runner: SyncRunner,
        *,
        every: Mapping[str, timedelta] | None = None,
        tick: float = TICK,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine = engine
        self.runner = runner
        self.every = dict(every or intervals())
        self.tick = tick
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # When this scheduler last started each (tenant, task): a sync that fails before its
        # first task (no credentials) leaves no task_run row, and must not be retried each tick.
        self._attempted: dict[tuple[int, str], datetime] = {}

    def start(self) -> None:
        """Start the scheduling thread (once)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="seatwise-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop scheduling and wait up to `timeout` seconds for running syncs to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.runner.wait(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:  # run boundary: a bad tick is logged, the next one tries again
                log.exception("The scheduler could not start due tasks")
            self._stop.wait(self.tick)

    def run_due(self) -> dict[str, list[str]]:
        """Start the due tasks of every active tenant not already syncing; what was started,
        by tenant name."""
        now = self.clock()
        started: dict[str, list[str]] = {}
        with session_scope(self.engine) as session:
            tenants = [
                (t.pk, t.name)
                for t in session.scalars(select(Tenant).where(Tenant.active.is_(True)))
            ]
            last: dict[int, dict[str, datetime]] = {}
            for tenant_pk, task, at in session.execute(
                select(TaskRun.tenant_pk, TaskRun.task, func.max(TaskRun.started_at)).group_by(
                    TaskRun.tenant_pk, TaskRun.task
                )
            ):
                last.setdefault(tenant_pk, {})[task] = at
        for tenant_pk, name in tenants:
            if self._stop.is_set() or self.runner.running(tenant_pk) is not None:
                continue
            seen = dict(last.get(tenant_pk, {}))
            for (pk, task), at in self._attempted.items():
                if pk == tenant_pk and (task not in seen or seen[task] < at):
                    seen[task] = at
            due = due_tasks(seen, self.every, now)
            if due and self._start(tenant_pk, due):
                self._attempted.update({(tenant_pk, task): now for task in due})
                log.info("Scheduled sync of %s: %s", name, ", ".join(due))
                started[name] = due
        return started

    def _start(self, tenant_pk: int, due: list[str]) -> bool:
        try:
            return self.runner.start(tenant_pk, due, "scheduler") is not None
        except SyncBusy as exc:  # another process syncs it: its runs will show in task_run
            log.info("Not starting a scheduled sync: %s", exc)
            return False


def install(app: FastAPI, **options: Any) -> Scheduler:
    """Run a `Scheduler` (with `options`) for as long as the app runs: started after the app's
    own startup, stopped before its shutdown."""
    state = app.state.web
    scheduler = Scheduler(state.engine, runner_for(app), **options)
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(instance: Any) -> AsyncIterator[Any]:
        async with previous(instance) as inner:
            scheduler.start()
            try:
                yield inner
            finally:
                await asyncio.to_thread(scheduler.stop)

    app.router.lifespan_context = lifespan
    app.state.scheduler = scheduler
    return scheduler
