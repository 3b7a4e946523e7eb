"""`seatwise sync` and `seatwise tasks`: run the integration tasks with progress (or queue them
for `seatwise worker` with --queue), list jobs and runs."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from seatwise.cli.context import Context
from seatwise.cli.report import TenantOption


class TaskChoice(StrEnum):
    """Which task `seatwise sync` runs."""

    roster = "roster"
    access = "access"
    license_info = "license-info"
    differentiation = "differentiation"
    all = "all"


def sync(
    tenant: TenantOption = None,
    task: Annotated[
        TaskChoice, typer.Option("--task", help="Which task; all by default.")
    ] = TaskChoice.all,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            help="Queue the tasks for `seatwise worker` and return at once (PostgreSQL only).",
        ),
    ] = False,
) -> None:
    """Run the integration tasks against Microsoft Graph.

    Stores the results; with --queue the workers run them instead."""
    from seatwise.tasknames import TASK_NAMES

    tasks = list(TASK_NAMES) if task is TaskChoice.all else [task.value]
    if queue:
        enqueue(Context(), tenant, tasks)
        return
    run_with_progress(Context(), tenant, tasks)


def enqueue(ctx: Context, tenant: str | None, tasks: list[str]) -> None:
    """Queue `tasks` of a tenant on the job queue; print the job ids."""
    from seatwise.reclaim.audit import current_actor
    from seatwise.workspace import queue

    queue.require_postgresql(ctx, "seatwise sync --queue")
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        tenant_pk, name = row.pk, row.name
    ids = queue.enqueue_sync(ctx, tenant_pk, tasks, started_by=current_actor())
    Console(stderr=True, soft_wrap=True).print(
        f"Queued {len(ids)} job(s) for {name}: {', '.join(map(str, ids))}. A `seatwise worker` "
        "runs them; `seatwise tasks` shows how they go."
    )
    typer.echo(" ".join(map(str, ids)))


def run_with_progress(ctx: Context, tenant: str | None, tasks: list[str]) -> None:
    """Run `tasks` for a tenant with a progress bar each and a summary table (stderr)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from seatwise.sync import TASK_TITLES
    from seatwise.workspace.syncing import sync_tenant

    console = Console(stderr=True, soft_wrap=True)
    with ctx.session() as session:
        row = ctx.tenant(session, tenant)
        tenant_pk, name = row.pk, row.name
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[what]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        bars = {t: progress.add_task(TASK_TITLES[t], total=None, what="waiting") for t in tasks}
        current: list[str] = []

        def on_task(task_name: str) -> None:
            if current:  # the previous task ended well
                done = max(progress.tasks[bars[current[-1]]].completed, 1)
                progress.update(bars[current[-1]], total=done, completed=done, what="done")
            current.append(task_name)
            progress.update(bars[task_name], what="running")

        def report(task_name: str, what: str, advance: int, total: int | None) -> None:
            progress.update(bars[task_name], advance=advance, what=what, total=total)

        outcome = sync_tenant(
            ctx, tenant_pk, tasks, started_by="seatwise sync", progress=report, on_task=on_task
        )
        if current:
            last = bars[current[-1]]
            if outcome.failure is not None:
                progress.update(last, what="[red]failed")
            else:
                done = max(progress.tasks[last].completed, 1)
                progress.update(last, total=done, completed=done, what="done")
    results = outcome.results
    summary = Table(title=f"Sync of {name}")
    for column in ("task", "status", "seconds", "items", "rows changed", "notes"):
        # names and numbers on one line; counts and notes wrap between words, never inside one
        summary.add_column(column, no_wrap=column in ("task", "status", "seconds"))
    for result in results:
        items = ", ".join(
            f"{k} {v:,}"
            for k, v in result.counts.items()
            if v and ":" not in k and not k.endswith(("written", "deleted", "pruned", "retired"))
        )
        changed = sum(
            v
            for k, v in result.counts.items()
            if k.endswith(("written", "deleted", "pruned", "retired"))
        )
        summary.add_row(
            TASK_TITLES[result.task],
            result.status,
            f"{result.duration_s:.1f}",
            items,
            f"{changed:,}",
            " ".join(result.notes),
        )
    console.print(summary)
    outcome.raise_failure()


def tasks(
    tenant: TenantOption = None,
    limit: Annotated[int, typer.Option(help="How many recent runs.")] = 20,
) -> None:
    """Recent task runs and queued jobs.

    Status, counts, duration and errors of each run (and on PostgreSQL the job queue)."""
    from seatwise.store import reads
    from seatwise.tasknames import TASK_TITLES

    # Core reads (`ctx.reading`, `ctx.tenant_key`): the command starts without the ORM.
    ctx = Context()
    with ctx.reading() as connection:
        tenant_pk, name = ctx.tenant_key(connection, tenant)
    if ctx.is_postgresql:
        _print_jobs(ctx, tenant_pk, name, limit)
    with ctx.reading() as connection:
        row = ctx.tenant_key(connection, name)
        table = Table(title=f"Task runs of {row.name} (UTC)")
        for column in ("started", "task", "status", "seconds", "error / notes"):
            table.add_column(column, no_wrap=column != "error / notes")
        for run in reads.recent_run_summaries(connection, row.pk, limit):
            detail = run.error or " ".join(run.notes or [])
            seconds = f"{run.duration_s:.1f}" if run.duration_s is not None else ""
            table.add_row(
                run.started_at.strftime("%Y-%m-%d %H:%M"),
                TASK_TITLES.get(run.task, run.task),
                run.status,
                seconds,
                detail,
            )
    Console().print(table)


def _print_jobs(ctx: Context, tenant_pk: int, name: str, limit: int) -> None:
    """The tenant's latest jobs on the queue (PostgreSQL): queued, running, retried, finished."""
    from seatwise.tasknames import TASK_TITLES
    from seatwise.workspace import queue

    jobs = queue.recent_jobs(ctx, tenant_pk, limit)
    if not jobs:
        return
    table = Table(title=f"Jobs of {name}")
    for column in ("job", "what", "state", "retries", "queued by", "queued", "finished", "error"):
        table.add_column(column, no_wrap=column not in ("what", "queued by", "error"))
    for job in jobs:
        what = TASK_TITLES.get(job["task"], job["task"])
        if job["kind"] != "sync":
            what = f"{job['kind']} plan {job['plan_pk']}"
        table.add_row(
            str(job["id"]),
            what,
            job["state"],
            str(job["retries"]),
            job.get("started_by") or "",
            _moment(job.get("queued_at")),
            _moment(job.get("finished_at")),
            job.get("error") or "",
        )
    Console().print(table)


def _moment(value: object) -> str:
    from datetime import datetime

    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else ""
