"""Fixtures for `seatwise worker` tests: a PostgreSQL schema of its own per test (the tests skip
without SEATWISE_TEST_DATABASE_URL), the `seatwise` CLI over it, a workspace for queuing jobs
in-process, real `seatwise worker` processes, and a look into the job and run tables.

Tests wait on what the database says (jobs finished, workers registered, a lease held), with a
generous deadline, never on fixed sleeps: they must pass on a busy 2-core machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, text

from seatwise.config import load_settings
from seatwise.store.engine import make_engine
from seatwise.workspace import Workspace
from tests.sync.conftest import PG_ENV, Seatwise, _postgres_schema_url

T = TypeVar("T")

DEADLINE_S = 240.0  # for anything a worker must do; generous for a loaded 2-core machine
POLL_S = 0.05
# Fast beats and looks so that a killed worker's job moves on in seconds, not minutes.
FAST = (
    "--heartbeat",
    "1",
    "--stalled-after",
    "8",
    "--recover",
    "* * * * * */2",
    "--retry-wait",
    "2",
)


# Read once: the `seatwise` fixture clears every SEATWISE_* variable for the command it runs.
BASE_URL = os.environ.get(PG_ENV, "").strip()


def _base_url() -> str:
    url = BASE_URL
    if not url:
        pytest.skip(f"worker tests need PostgreSQL ({PG_ENV})")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose connections use a fresh, empty PostgreSQL schema (dropped afterwards)."""
    yield from _postgres_schema_url(_base_url())


@pytest.fixture
def other_pg_url() -> Iterator[str]:
    """A second fresh schema, for a comparison database."""
    yield from _postgres_schema_url(_base_url())


@pytest.fixture
def seatwise(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str) -> Seatwise:
    """The `seatwise` command in-process, on the test's PostgreSQL schema."""
    return Seatwise(monkeypatch, tmp_path / "data", pg_url)


@pytest.fixture
def workspace(seatwise: Seatwise) -> Iterator[Workspace]:
    """A workspace on the same settings as the `seatwise` fixture (queues jobs in-process)."""
    ws = Workspace(load_settings())
    try:
        yield ws
    finally:
        ws.close()


class Db:
    """Reads the test's schema: jobs, events, task runs, workers, leases."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [dict(r) for r in connection.execute(text(sql), params).mappings()]

    def value(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def sync_jobs(self) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT id, status::text AS status, attempts, (args->>'tenant_pk')::int AS tenant_pk, "
            "args->>'task' AS task, args->>'started_by' AS started_by FROM procrastinate_jobs "
            "WHERE task_name = 'seatwise.sync' ORDER BY id"
        )

    def unfinished_syncs(self) -> int:
        return int(
            self.value(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'seatwise.sync' "
                "AND status IN ('todo', 'doing')"
            )
        )

    def events(self, job_id: int) -> list[str]:
        return [
            str(r["type"])
            for r in self.rows(
                "SELECT type::text AS type FROM procrastinate_events WHERE job_id = :j ORDER BY id",
                j=job_id,
            )
        ]

    def runs(self, after: int = 0) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT r.pk, t.name AS tenant, r.tenant_pk, r.task, r.status, r.error, "
            "r.started_at, r.finished_at FROM task_run r JOIN tenant t ON t.pk = r.tenant_pk "
            "WHERE r.pk > :after ORDER BY r.pk",
            after=after,
        )

    def workers(self) -> int:
        """Workers registered (0 before the first made the queue's tables)."""
        if self.value("SELECT to_regclass('procrastinate_workers')") is None:
            return 0
        return int(self.value("SELECT count(*) FROM procrastinate_workers"))

    def dispose(self) -> None:
        self.engine.dispose()


@pytest.fixture
def db(pg_url: str) -> Iterator[Db]:
    found = Db(pg_url)
    try:
        yield found
    finally:
        found.dispose()


@dataclass
class Worker:
    """One `seatwise worker` process and its log file."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    stopped: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Workers:
    """`seatwise worker` processes (environment: the `seatwise` fixture's), logs in files."""

    directory: Path
    started: list[Worker] = field(default_factory=list)

    def start(self, *args: str) -> Worker:
        log = self.directory / f"worker-{len(self.started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "seatwise", "worker", *FAST, *args],
                env=dict(os.environ),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(proc, log)
        self.started.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(f"--- worker {w.pid}\n{w.log()[-3000:]}" for w in self.started)

    def check_alive(self, *, killed: Worker | None = None) -> None:
        for worker in self.started:
            if worker is not killed and not worker.stopped and worker.proc.poll() is not None:
                pytest.fail(f"a worker exited with {worker.proc.returncode}:\n{worker.log()}")

    def stop(self, worker: Worker) -> int:
        """SIGTERM, then wait for the graceful exit; its exit code."""
        worker.stopped = True
        worker.proc.send_signal(signal.SIGTERM)
        try:
            return worker.proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait()
            pytest.fail(f"a worker did not stop on SIGTERM:\n{worker.log()}")

    def close(self) -> None:
        for worker in self.started:
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait()


@pytest.fixture
def workers(seatwise: Seatwise, tmp_path: Path) -> Iterator[Workers]:
    found = Workers(tmp_path)
    try:
        yield found
    finally:
        found.close()


def wait_for(
    what: str,
    check: Callable[[], T],
    *,
    workers: Workers | None = None,
    killed: Worker | None = None,
    deadline_s: float = DEADLINE_S,
    poll_s: float = POLL_S,
) -> T:
    """Poll `check` until it returns something truthy (returned), failing after the deadline
    or when a worker process (but `killed`) has died."""
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if workers is not None:
            workers.check_alive(killed=killed)
        if time.monotonic() > end:
            logs = workers.logs() if workers is not None else ""
            pytest.fail(f"timed out after {deadline_s:.0f} s waiting for {what}\n{logs}")
        time.sleep(poll_s)
