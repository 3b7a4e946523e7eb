"""Integration tasks started from the web process ("Run now" and the in-process scheduler): a
background thread per tenant running `seatwise.workspace.syncing.sync_tenant`, as `seatwise sync`
does, one sync per tenant at a time across every process (the sync lease). Renders nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from seatwise.errors import AppError
from seatwise.store.schema import Tenant
from seatwise.sync.lease import Lease
from seatwise.workspace import Workspace
from seatwise.workspace.syncing import ordered_tasks, sync_tenant

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["Job", "SyncRunner", "runner_for"]

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One background sync of a tenant: its tasks in order and how far it got."""

    tenant_pk: int
    tenant: str
    tasks: list[str]
    started_by: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    current: str | None = None
    progress: str = ""
    error: str | None = None
    ran: list[str] = field(default_factory=list)  # tasks that were started (in task_run)
    done: threading.Event = field(default_factory=threading.Event)


class SyncRunner:
    """Runs tasks for a tenant on a thread; refuses a second sync of a tenant while one runs."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._last: dict[int, Job] = {}
        self._threads: list[threading.Thread] = []

    def running(self, tenant_pk: int) -> Job | None:
        """The tenant's running job, or None."""
        with self._lock:
            return self._jobs.get(tenant_pk)

    def last(self, tenant_pk: int) -> Job | None:
        """The tenant's last finished job in this process, or None."""
        with self._lock:
            return self._last.get(tenant_pk)

    def start(self, tenant_pk: int, tasks: Sequence[str], started_by: str) -> Job | None:
        """Start `tasks` (in dependency order) for the tenant in the background; None when a
        sync of that tenant is already running here, `SyncBusy` when elsewhere."""
        ordered = ordered_tasks(tasks)
        with self.workspace.session() as session:
            row = session.get(Tenant, tenant_pk)
            if row is None:
                raise AppError(f"There is no tenant {tenant_pk} in the database.")
            name = row.name
        if self.running(tenant_pk) is not None:
            return None
        lease = Lease.take(
            self.workspace.engine, tenant_pk, f"started by {started_by} in the web app"
        )
        with self._lock:
            if tenant_pk in self._jobs:  # started here meanwhile, under a lease given back since
                lease.release()
                return None
            job = Job(tenant_pk, name, ordered, started_by)
            self._jobs[tenant_pk] = job
            thread = threading.Thread(
                target=self._run, args=(job, lease), name=f"seatwise-sync-{name}", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return job

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every running job to end; False when some still run after `timeout`."""
        with self._lock:
            threads = list(self._threads)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(deadline - time.monotonic(), 0))
        return not any(t.is_alive() for t in threads)

    def _run(self, job: Job, lease: Lease) -> None:
        def on_task(task: str) -> None:
            job.current, job.progress = task, ""
            job.ran.append(task)

        def report(_task: str, what: str, _advance: int, _total: int | None) -> None:
            job.progress = what

        try:
            outcome = sync_tenant(
                self.workspace,
                job.tenant_pk,
                job.tasks,
                started_by=job.started_by,
                lease=lease,
                progress=report,
                on_task=on_task,
            )
            if outcome.failure is not None:  # recorded in task_run
                job.error = str(outcome.failure)
                log.warning("Sync of %s stopped: %s", job.tenant, outcome.failure)
        except AppError as exc:  # a credentials problem, before the first task
            job.error = str(exc)
            log.warning("Sync of %s stopped: %s", job.tenant, exc)
        except Exception as exc:  # run boundary: the thread must end, recorded and logged
            job.error = f"Internal error ({type(exc).__name__}); this is a bug in seatwise."
            log.exception("Sync of %s failed", job.tenant)
        finally:
            with self._lock:
                self._jobs.pop(job.tenant_pk, None)
                self._last[job.tenant_pk] = job
            job.current = None
            job.done.set()


_CREATE = threading.Lock()


def runner_for(app: FastAPI) -> SyncRunner:
    """The app's one runner (made on first use from its `WebState`)."""
    with _CREATE:
        runner: SyncRunner | None = getattr(app.state, "sync_runner", None)
        if runner is None:
            web = app.state.web
            runner = SyncRunner(web.workspace)
            app.state.sync_runner = runner
        return runner
