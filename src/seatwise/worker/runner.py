"""Running one `seatwise worker`: Procrastinate's tables made if missing, the jobs registered,
then jobs taken from the queue until SIGINT or SIGTERM, which stop it once the jobs in hand end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from seatwise.errors import AppError
from seatwise.worker.jobs import WorkerOptions, register
from seatwise.workspace import Workspace, queue

__all__ = ["OneLineAppErrors", "run"]


class OneLineAppErrors(logging.Filter):
    """Expected failures (`AppError`) of jobs are logged as their sentence, not a traceback;
    anything else keeps its traceback (a bug)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop the traceback of a record about an `AppError`, keeping its message."""
        if record.exc_info and isinstance(record.exc_info[1], AppError):
            record.msg = f"{record.getMessage()}: {record.exc_info[1]}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def run(
    workspace: Workspace,
    concurrency: int = 1,
    *,
    options: WorkerOptions | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run a worker taking `concurrency` jobs at a time (each on a thread) until SIGINT or
    SIGTERM; then it takes no new job and returns when the jobs in hand end (a job killed with
    the process is queued again by another worker: `seatwise.recover`). `ConfigError` on SQLite.
    `on_ready()` is called once the worker is about to take jobs."""
    settings = options or WorkerOptions()
    queue.require_postgresql(workspace)
    queue.ensure_queue_schema(workspace)
    app = queue.make_app(workspace, max_connections=concurrency + 4)
    register(app, workspace, settings)
    logging.getLogger("procrastinate.worker").addFilter(OneLineAppErrors())  # job outcomes

    async def main() -> None:
        # Sync jobs run on the loop's default executor: room for every job at once.
        loop = asyncio.get_running_loop()
        loop.set_default_executor(
            ThreadPoolExecutor(max_workers=concurrency + 2, thread_name_prefix="seatwise-job")
        )
        async with app.open_async():
            if on_ready is not None:
                on_ready()
            await app.run_worker_async(
                queues=[queue.QUEUE],
                name=f"seatwise-{socket.gethostname()}-{os.getpid()}",
                concurrency=concurrency,
                wait=True,
                listen_notify=True,
                install_signal_handlers=True,
                update_heartbeat_interval=settings.heartbeat_s,
                stalled_worker_timeout=settings.stalled_after_s,
                delete_jobs="never",
            )

    try:
        asyncio.run(main())
    finally:
        workspace.save_rotated_tokens()
