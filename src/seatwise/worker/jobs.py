"""The jobs of `seatwise worker`, registered on a Procrastinate `App` by `register`, under the
names `seatwise.workspace.queue` queues them by:

- `seatwise.sync`: one integration task of one tenant, through `sync_tenant` under the tenant's
  sync lease; skipped when a run of that task that started after the job was queued has
  succeeded (another process synced meanwhile: one request never syncs twice). Transient
  failures (Graph still failing after its own retries: exit code 4; the lease held elsewhere)
  are retried with exponential backoff; configuration and permission errors (exit code 3) are
  not: they are in `task_run`, shown on Tasks and the overview.
- `seatwise.plan`: apply or undo a reclamation plan (resumable: a retry carries on).
- `seatwise.schedule` (periodic, every minute by default): queue the tasks the schedules find due.
- `seatwise.recover` (periodic): put back in the queue the jobs of workers that stopped beating
  (killed, machine lost), so another worker runs them.
- `seatwise.prune` (daily): forget finished jobs after `keep_days`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import procrastinate
from procrastinate import JobContext, RetryDecision, exceptions
from procrastinate.jobs import Job, Status

from seatwise.errors import AppError, ExitCode, GraphError, GraphThrottled, SyncBusy
from seatwise.workspace import Workspace, plans, queue
from seatwise.workspace.syncing import sync_tenant

__all__ = ["TransientRetry", "WorkerOptions", "is_transient", "recover_stalled", "register"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker schedules, beats and retries (the defaults suit production)."""

    schedule: bool = True
    """Take part in the schedules (queue the due tasks); off for workers that only run jobs."""
    tick: str = "* * * * *"
    """Cron (5 fields, or 6 with seconds last) of the looks at what is due."""
    recover: str = "* * * * *"
    """Cron of the looks for jobs of stalled workers."""
    heartbeat_s: float = 10.0
    """Seconds between the worker's heartbeats."""
    stalled_after_s: float = 60.0
    """A worker silent this long is dead: its jobs are queued again."""
    retry_wait_s: int = 4
    """Base of the exponential backoff: retries after 4, 16, 64, 256, 1024 seconds."""
    max_retries: int = 5
    """Retries of a job (after transient failures, or its worker's death) before it fails."""
    keep_days: int = 30
    """Finished jobs are forgotten after this many days (task runs are kept)."""


def is_transient(exc: BaseException) -> bool:
    """Whether a failed job is worth trying again later: Graph failed after its own retries
    (exit code 4), or another process holds the tenant's sync lease."""
    if isinstance(exc, SyncBusy):
        return True
    return isinstance(exc, GraphError) and exc.exit_code == ExitCode.GRAPH


class TransientRetry(procrastinate.RetryStrategy):
    """Procrastinate's exponential backoff, for transient failures only (`is_transient`)."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        """Retry after `exponential_wait ** (attempts + 1)` seconds, `max_attempts` times."""
        if not is_transient(exception):
            return None
        return super().get_retry_decision(exception=exception, job=job)


def register(app: procrastinate.App, workspace: Workspace, options: WorkerOptions) -> None:
    """Register every job of `seatwise worker` on `app` (a `procrastinate.App`), run against
    `workspace`, with the periodic ones on the crons of `options`."""
    retry = TransientRetry(max_attempts=options.max_retries, exponential_wait=options.retry_wait_s)

    @app.task(name=queue.SYNC_TASK, queue=queue.QUEUE, pass_context=True, retry=retry)
    def sync(context: JobContext, tenant_pk: int, task: str, started_by: str) -> dict[str, Any]:
        job_id = context.job.id
        if job_id is not None and queue.ran_since_queued(workspace, job_id, tenant_pk, task):
            log.info("Job %s: %s of tenant %s ran meanwhile", job_id, task, tenant_pk)
            return {"tenant_pk": tenant_pk, "task": task, "skipped": "ran meanwhile"}
        purpose = f"seatwise worker job {job_id}, queued by {started_by}"
        try:
            report = sync_tenant(workspace, tenant_pk, [task], started_by=purpose)
        except AppError as exc:  # before the task started: no task_run row says why
            if not is_transient(exc):
                queue.record_refusal(workspace, tenant_pk, task, str(exc))
            raise
        report.raise_failure()  # recorded in task_run already
        (result,) = report.results
        return {"tenant": report.tenant, "task": task, "seconds": round(result.duration_s, 1)}

    @app.task(name=queue.PLAN_TASK, queue=queue.QUEUE, retry=retry)
    def plan(
        tenant_pk: int, plan_pk: int, kind: str, actor: str, upns: list[str] | None = None
    ) -> dict[str, Any]:
        if kind == "undo":
            outcome = plans.undo(workspace, tenant_pk, plan_pk, actor=actor, upns=upns or ())
        else:
            outcome = plans.apply(workspace, tenant_pk, plan_pk, actor=actor)
        if outcome.left:  # Graph kept refusing some users for now: resume later
            raise GraphThrottled(
                f"{outcome.left} users of plan {plan_pk} are still pending (Graph kept refusing); "
                "the job carries on later."
            )
        return {"plan": plan_pk, "kind": kind, "done": outcome.done, "failed": outcome.failed}

    @app.task(name=queue.SCHEDULE_TASK, queue=queue.QUEUE)
    def schedule(timestamp: int) -> dict[str, list[str]]:
        return queue.enqueue_due(workspace, datetime.fromtimestamp(timestamp, UTC))

    @app.task(name=queue.RECOVER_TASK, queue=queue.QUEUE, pass_context=True)
    async def recover(context: JobContext, timestamp: int) -> list[int]:
        del timestamp
        return await recover_stalled(context.app, options)

    @app.task(name=queue.PRUNE_TASK, queue=queue.QUEUE, pass_context=True)
    async def prune(context: JobContext, timestamp: int) -> None:
        del timestamp
        await context.app.job_manager.delete_old_jobs(
            nb_hours=options.keep_days * 24,
            queue=queue.QUEUE,
            include_failed=True,
            include_cancelled=True,
            include_aborted=True,
        )

    if options.schedule:
        app.periodic(
            cron=options.tick,
            periodic_id="schedule",
            queueing_lock="seatwise-schedule",
            priority=queue.SCHEDULE_PRIORITY,
        )(schedule)
    app.periodic(
        cron=options.recover,
        periodic_id="recover",
        queueing_lock="seatwise-recover",
        priority=queue.RECOVER_PRIORITY,
    )(recover)
    app.periodic(cron="17 3 * * *", periodic_id="prune", queueing_lock="seatwise-prune")(prune)


async def recover_stalled(app: procrastinate.App, options: WorkerOptions) -> list[int]:
    """Queue again the running jobs of workers silent for `stalled_after_s` (the job starts
    over: a sync task is one transaction, a plan resumes); a job tried `max_retries` times
    already fails instead. The ids of the jobs queued again."""
    manager = app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=options.stalled_after_s)
    again: list[int] = []
    for job in stalled:
        try:
            if job.attempts >= options.max_retries:
                log.error("Job %s stalled after %s retries: marked failed", job.id, job.attempts)
                await manager.finish_job(job=job, status=Status.FAILED, delete_job=False)
                continue
            await manager.retry_job(job)
        except exceptions.ConnectorException as exc:  # another worker recovered it first
            log.info("Could not queue stalled job %s again: %s", job.id, exc)
            continue
        log.warning("Job %s (%s) of a stalled worker queued again", job.id, job.task_name)
        if job.id is not None:
            again.append(job.id)
    return again
