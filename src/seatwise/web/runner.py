"""Integration tasks started from the web process ("Run now" and the in-process scheduler): a
background thread per tenant running `seatwise.sync.run_task` as `seatwise sync` does, one sync
per tenant at a time across every process (`seatwise.sync.lease`). Imports `sync`, `graph`,
`store`; renders nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from seatwise.config import Settings
from seatwise.connections import graph_client, save_refresh_tokens
from seatwise.errors import AppError
from seatwise.secrets import SecretBox
from seatwise.store import session_scope
from seatwise.store.schema import Tenant
from seatwise.sync import TASKS, run_task
from seatwise.sync.lease import Lease

if TYPE_CHECKING:
    from fastapi import FastAPI

    from seatwise.graph import GraphClient

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

    def __init__(self, settings: Settings, engine: Engine, secrets: SecretBox) -> None:
        self.settings = settings
        self.engine = engine
        self.secrets = secrets
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._last: dict[int, Job] = {}
        self._threads: list[threading.Thread] = []
        self._rotated: dict[int, str] = {}

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
        unknown = [t for t in tasks if t not in TASKS]
        if unknown or not tasks:
            raise ValueError(f"Unknown tasks {unknown or tasks!r}; choose from {list(TASKS)}.")
        with session_scope(self.engine) as session:
            row = session.get(Tenant, tenant_pk)
            if row is None:
                raise AppError(f"There is no tenant {tenant_pk} in the database.")
            name = row.name
        if self.running(tenant_pk) is not None:
            return None
        lease = Lease.take(self.engine, tenant_pk, f"started by {started_by} in the web app")
        with self._lock:
            if tenant_pk in self._jobs:  # started here meanwhile, under a lease given back since
                lease.release()
                return None
            job = Job(tenant_pk, name, [t for t in TASKS if t in tasks], started_by)
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
        try:
            with session_scope(self.engine) as session:
                row = session.get(Tenant, job.tenant_pk)
                if row is None:
                    raise AppError(f"Tenant {job.tenant} was removed.")
                client = self.graph_client(row)
            with client:
                for task in job.tasks:
                    job.current, job.progress = task, ""
                    job.ran.append(task)

                    def report(_task: str, what: str, _advance: int, _total: int | None) -> None:
                        job.progress = what

                    try:
                        # Records the run in task_run (running, then succeeded or failed).
                        run_task(self.engine, client, job.tenant_pk, task, progress=report)
                    finally:
                        self._save_rotated_tokens()
        except AppError as exc:  # recorded in task_run by run_task, or a credentials problem
            job.error = str(exc)
            log.warning("Sync of %s stopped: %s", job.tenant, exc)
        except Exception as exc:  # run boundary: the thread must end, recorded and logged
            job.error = f"Internal error: {exc!r}"
            log.exception("Sync of %s failed", job.tenant)
        finally:
            lease.release()
            with self._lock:
                self._jobs.pop(job.tenant_pk, None)
                self._last[job.tenant_pk] = job
            job.current = None
            job.done.set()

    def graph_client(self, tenant: Tenant) -> GraphClient:
        """A Graph client for the tenant's stored credentials (as `seatwise sync` builds one)."""
        tenant_pk = tenant.pk

        def remember(token: str) -> None:
            with self._lock:
                self._rotated[tenant_pk] = token

        return graph_client(self.settings, self.secrets, tenant, remember)

    def _save_rotated_tokens(self) -> None:
        with self._lock:
            pending, self._rotated = self._rotated, {}
        if pending:
            with session_scope(self.engine) as session:
                save_refresh_tokens(session, self.secrets, pending)


_CREATE = threading.Lock()


def runner_for(app: FastAPI) -> SyncRunner:
    """The app's one runner (made on first use from its `WebState`)."""
    with _CREATE:
        runner: SyncRunner | None = getattr(app.state, "sync_runner", None)
        if runner is None:
            web = app.state.web
            runner = SyncRunner(web.settings, web.engine, web.secrets)
            app.state.sync_runner = runner
        return runner
