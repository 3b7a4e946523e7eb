"""`seatwise worker`: Procrastinate workers on a PostgreSQL installation. `jobs` holds what they
run (one integration task of one tenant, a reclamation plan, the schedules' look at what is due,
the recovery of jobs whose worker died), `runner` starts a worker.

A front end, like `cli` and `web`: imports `workspace` and below, never `cli` or `web`.
"""

from seatwise.worker.jobs import WorkerOptions
from seatwise.worker.runner import run

__all__ = ["WorkerOptions", "run"]
