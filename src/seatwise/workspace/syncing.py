"""Syncing a tenant: its integration tasks in dependency order, under the tenant's sync lease
(one sync of a tenant at a time across processes and machines), each task one transaction,
rotated refresh tokens stored between tasks. `seatwise sync`, the web app's "Run now" and its
scheduler, and `seatwise worker`'s jobs all sync through `sync_tenant`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from seatwise.errors import AppError, UsageError
from seatwise.store.schema import Tenant
from seatwise.sync import TASKS, RunResult, run_task
from seatwise.sync.context import ProgressFn, SyncOptions
from seatwise.sync.lease import Lease
from seatwise.workspace.core import Workspace

__all__ = ["SyncReport", "check_syncable", "ordered_tasks", "sync_tenant"]


@dataclass
class SyncReport:
    """How a sync ended: the tasks that ran to the end, and the error that stopped it."""

    tenant: str
    results: list[RunResult] = field(default_factory=list)
    failure: AppError | None = None

    def raise_failure(self) -> None:
        """Raise the error that stopped the sync, if one did."""
        if self.failure is not None:
            raise self.failure


def ordered_tasks(tasks: Iterable[str]) -> list[str]:
    """`tasks` in dependency order; `UsageError` for a name that is not a task."""
    wanted = list(tasks)
    unknown = [t for t in wanted if t not in TASKS]
    if unknown or not wanted:
        raise UsageError(
            f"Unknown task {', '.join(unknown) or '(none given)'}; choose from {', '.join(TASKS)}."
        )
    return [t for t in TASKS if t in wanted]


def check_syncable(tenant: Tenant) -> None:
    """`UsageError` when the tenant may not be synced: deactivated, or superseded."""
    if tenant.superseded_by is not None:
        raise UsageError(
            f"Tenant {tenant.name} was superseded by {tenant.superseded_by}, which syncs the same "
            "Microsoft 365 tenant now."
        )
    if not tenant.active:
        raise UsageError(
            f"Tenant {tenant.name} is deactivated; reactivate it in the web UI's Settings to "
            "sync it again."
        )


def sync_tenant(
    workspace: Workspace,
    tenant_pk: int,
    tasks: Iterable[str],
    *,
    started_by: str,
    lease: Lease | None = None,
    progress: ProgressFn | None = None,
    on_task: Callable[[str], None] | None = None,
) -> SyncReport:
    """Run `tasks` for the tenant, in dependency order, stopping at the first that fails.

    Takes the tenant's lease for `started_by` (`SyncBusy` says who holds it) unless the caller
    took `lease` already; gives it back at the end either way. `on_task(name)` hears each task
    start, `progress(task, what, advance, total)` its progress. A failed task is recorded in
    `task_run` and returned as the report's `failure`; credentials that cannot make a Graph
    client raise `AuthError` before anything runs.
    """
    ordered = ordered_tasks(tasks)
    options = SyncOptions(retention_days=workspace.settings.sync.retention_days)
    try:
        with workspace.session() as session:
            row = session.get(Tenant, tenant_pk)
            if row is None:
                raise UsageError(f"There is no tenant {tenant_pk} in the database.")
            check_syncable(row)
            report = SyncReport(row.name)
            client = workspace.graph_client(row)
    except BaseException:
        if lease is not None:
            lease.release()
        raise
    with client:
        if lease is None:
            lease = Lease.take(workspace.engine, tenant_pk, started_by)
        with lease:
            for task in ordered:
                if on_task is not None:
                    on_task(task)
                try:
                    if progress is None:
                        result = run_task(
                            workspace.engine, client, tenant_pk, task, options=options
                        )
                    else:
                        result = run_task(
                            workspace.engine,
                            client,
                            tenant_pk,
                            task,
                            options=options,
                            progress=progress,
                        )
                except AppError as exc:  # recorded as failed in task_run by run_task
                    report.failure = exc
                    break
                finally:
                    workspace.save_rotated_tokens()
                report.results.append(result)
    return report
