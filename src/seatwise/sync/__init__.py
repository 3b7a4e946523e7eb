"""Graph → store: the four integration tasks (DESIGN §3), each one transaction, idempotent.

Imports `graph` and `store`; nothing here renders or prints.
"""

from seatwise.sync.context import SyncOptions, TaskContext
from seatwise.sync.runner import TASKS, RunResult, run_task, run_tasks
from seatwise.tasknames import TASK_TITLES

__all__ = [
    "TASKS",
    "TASK_TITLES",
    "RunResult",
    "SyncOptions",
    "TaskContext",
    "run_task",
    "run_tasks",
]
