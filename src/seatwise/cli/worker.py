"""`seatwise worker`: run the job queue's integration tasks, reclamation jobs and schedules
(Procrastinate on PostgreSQL); any number of them, on any number of machines."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

from seatwise.cli.context import Context
from seatwise.errors import UsageError

__all__ = ["worker"]

err = Console(stderr=True, highlight=False, soft_wrap=True)


def _cron(value: str, option: str) -> str:
    from croniter import croniter  # type: ignore[import-untyped]

    if not croniter.is_valid(value):
        raise UsageError(f"{option} must be a cron expression such as '* * * * *', not {value!r}.")
    return value


def worker(
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Jobs this worker runs at once.")
    ] = 1,
    schedule: Annotated[
        bool,
        typer.Option(
            "--schedule/--no-schedule",
            help="Also queue the tasks the schedules find due (any number of workers may).",
        ),
    ] = True,
    tick: Annotated[
        str, typer.Option(help="Cron of the looks at what is due (6th field: seconds).")
    ] = "* * * * *",
    recover: Annotated[
        str, typer.Option(help="Cron of the looks for jobs of workers that died.")
    ] = "* * * * *",
    heartbeat: Annotated[
        float, typer.Option(min=0.1, help="Seconds between this worker's heartbeats.")
    ] = 10.0,
    stalled_after: Annotated[
        float,
        typer.Option(min=1.0, help="Seconds of silence after which a worker's jobs run elsewhere."),
    ] = 60.0,
    retry_wait: Annotated[
        int,
        typer.Option(
            min=1, help="Backoff base B: transient failures retry after B, B², B³… seconds."
        ),
    ] = 4,
) -> None:
    """Run integration tasks, reclamation jobs and the schedules from the job queue. Needs
    PostgreSQL (SEATWISE_DATABASE_URL=postgresql://…); on SQLite, `seatwise serve` runs the
    schedules itself. Ctrl-C or SIGTERM stops it once the jobs in hand end."""
    from seatwise.worker import WorkerOptions, run
    from seatwise.worker.runner import OneLineAppErrors
    from seatwise.workspace.queue import require_postgresql

    options = WorkerOptions(
        schedule=schedule,
        tick=_cron(tick, "--tick"),
        recover=_cron(recover, "--recover"),
        heartbeat_s=heartbeat,
        stalled_after_s=stalled_after,
        retry_wait_s=retry_wait,
    )
    ctx = Context()
    require_postgresql(ctx, "seatwise worker")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(OneLineAppErrors())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    for chatty in ("httpx", "alembic"):  # a line per Graph request, per migration step
        logging.getLogger(chatty).setLevel(logging.WARNING)

    def ready() -> None:
        plural = "job" if concurrency == 1 else "jobs"
        err.print(f"seatwise worker: {concurrency} {plural} at a time. Ctrl-C stops it.")

    run(ctx, concurrency, options=options, on_ready=ready)
