"""The in-process scheduler of `seatwise serve` on SQLite (one machine): every `TICK` it starts
the tasks `seatwise.workspace.schedules` finds due (License Information every 24 h, the others
daily at each tenant's hour), through the web process's `SyncRunner` (so never two syncs of a
tenant at once). Started and stopped with the app's lifespan by `install`; on PostgreSQL,
`seatwise worker` schedules the same way instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from seatwise.errors import SyncBusy
from seatwise.store import session_scope
from seatwise.web.runner import SyncRunner, runner_for
from seatwise.workspace.schedules import due_tenants

__all__ = ["TICK", "Scheduler", "install"]

log = logging.getLogger(__name__)

TICK = 60.0  # seconds between looks at what is due


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """Looks every `tick` seconds for due tasks of active tenants and starts them."""

    def __init__(
        self,
        engine: Engine,
        runner: SyncRunner,
        *,
        tick: float = TICK,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine = engine
        self.runner = runner
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
        """Start the due tasks (`seatwise.workspace.schedules`) of every active tenant not
        already syncing; what was started, by tenant name."""
        now = self.clock()
        with session_scope(self.engine) as session:
            due = due_tenants(session, now, attempted=self._attempted)
        started: dict[str, list[str]] = {}
        for item in due:
            if self._stop.is_set() or self.runner.running(item.tenant_pk) is not None:
                continue
            if self._start(item.tenant_pk, item.tasks):
                self._attempted.update({(item.tenant_pk, task): now for task in item.tasks})
                log.info("Scheduled sync of %s: %s", item.tenant, ", ".join(item.tasks))
                started[item.tenant] = item.tasks
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
