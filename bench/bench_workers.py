"""`seatwise worker` throughput on PostgreSQL: 20 simulated tenants of 5,000 users each (one
simulator process), all four integration tasks of every tenant queued at once, run by one
worker, then by two (`--concurrency 1` each, as `docs/deploy.md` advises), each run in a fresh
schema; wall time, time per tenant and the speed-up, written to BENCHMARKS.md.

Needs PostgreSQL: `SEATWISE_BENCH_DATABASE_URL`, else `SEATWISE_TEST_DATABASE_URL` (each run
makes a schema of its own there and drops it); without either it says so and records nothing.
`BENCH_WORKERS_TENANTS` and `BENCH_WORKERS_USERS` change the size.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.bench_sync import cpu_seconds
from bench.record import record

TENANTS = int(os.environ.get("BENCH_WORKERS_TENANTS", "20"))
USERS = int(os.environ.get("BENCH_WORKERS_USERS", "5000"))
WORKER_COUNTS = (1, 2)
DEADLINE_S = 3600.0


def database_url() -> str | None:
    """The PostgreSQL server to use, if one was given."""
    for name in ("SEATWISE_BENCH_DATABASE_URL", "SEATWISE_TEST_DATABASE_URL"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def plain(url: str) -> str:
    """A libpq URL (psycopg) from a SQLAlchemy one."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def schema(url: str) -> Iterator[str]:
    """A fresh schema; yields the SQLAlchemy URL whose connections use it; dropped at the end."""
    name = f"bench_workers_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain(url), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{name}"')
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(plain(url), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{name}" CASCADE')


@contextmanager
def simulator(workdir: Path) -> Iterator[tuple[dict[str, object], subprocess.Popen[bytes]]]:
    """`seatwise simulate --tenants TENANTS --users USERS`; its info file and process."""
    info_file = workdir / "info.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seatwise",
            "simulate",
            "--tenants",
            str(TENANTS),
            "--users",
            str(USERS),
            "--seed",
            "1",
            "--info-file",
            str(info_file),
            "--cert-dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not info_file.exists():
            if proc.poll() is not None:
                raise SystemExit("the simulator exited before it was ready")
            time.sleep(0.1)
        yield json.loads(info_file.read_text()), proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def seatwise_env(info: dict[str, object], url: str, data_dir: Path) -> dict[str, str]:
    """The environment of the `seatwise` processes of one run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEATWISE_")}
    env.update(
        {
            "SEATWISE_DATABASE_URL": url,
            "SEATWISE_DATA_DIR": str(data_dir),
            "SEATWISE_SECRET_KEY": "benchmark passphrase, not a real secret",
            "SEATWISE_GRAPH_URL": str(info["graph_url"]),
            "SEATWISE_AUTHORITY_HOST": str(info["authority_host"]),
            "SEATWISE_CA_BUNDLE": str(info["ca_bundle"]),
        }
    )
    return env


@dataclass
class Run:
    """What one run measured."""

    workers: int
    wall_s: float
    busy_s: float
    tenant_s: list[float]
    sim_cpu_s: float
    worker_cpu_s: float


def queue_everything(info: dict[str, object], env: dict[str, str]) -> int:
    """Register every simulated tenant and queue its four tasks; how many jobs."""
    from seatwise.config import load_settings
    from seatwise.sync import TASKS
    from seatwise.workspace import Workspace, queue
    from seatwise.workspace.tenants import register

    tenants = info["tenants"]
    assert isinstance(tenants, list)
    jobs = 0
    with Workspace(load_settings(env=env)) as workspace:
        for index, tenant in enumerate(tenants):
            row = register(
                workspace,
                f"t{index:02d}",
                tenant["tenant_id"],
                tenant["client_id"],
                tenant["client_secret"],
                auth_mode="app",
                refresh=None,
            )
            jobs += len(queue.enqueue_sync(workspace, row.pk, list(TASKS), started_by="bench"))
    return jobs


def run_workers(count: int, env: dict[str, str], url: str, workdir: Path, sim_pid: int) -> Run:
    """Start `count` workers on the queued jobs; measure until the queue is empty."""
    logs = [(workdir / f"worker-{count}-{i}.log").open("wb") for i in range(count)]
    sim_before = cpu_seconds(sim_pid)
    children_before = children_cpu()
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "seatwise", "worker", "--no-schedule", "--concurrency", "1"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        with psycopg.connect(conninfo(url), autocommit=True) as connection:
            while True:
                (left,) = connection.execute(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'seatwise.sync' "
                    "AND status IN ('todo', 'doing')"
                ).fetchone() or (0,)
                if left == 0:
                    break
                if any(p.poll() is not None for p in procs):
                    raise SystemExit(f"a worker exited; see {workdir}")
                if time.perf_counter() - started > DEADLINE_S:
                    raise SystemExit("the workers did not finish in time")
                time.sleep(0.2)
            wall = time.perf_counter() - started
            sim_cpu = cpu_seconds(sim_pid) - sim_before
            failed = connection.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status <> 'succeeded' "
                "AND task_name = 'seatwise.sync'"
            ).fetchone()
            if failed and failed[0]:
                raise SystemExit(f"{failed[0]} jobs did not succeed; see {workdir}")
            busy = connection.execute(
                "SELECT extract(epoch FROM max(e.at) FILTER (WHERE e.type = 'succeeded') "
                "- min(e.at) FILTER (WHERE e.type = 'started')) FROM procrastinate_events e "
                "JOIN procrastinate_jobs j ON j.id = e.job_id WHERE j.task_name = 'seatwise.sync'"
            ).fetchone()
            per_tenant = connection.execute(
                "SELECT sum(duration_s) FROM task_run GROUP BY tenant_pk ORDER BY tenant_pk"
            ).fetchall()
            (users,) = connection.execute('SELECT count(*) FROM "user"').fetchone() or (0,)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    worker_cpu = children_cpu() - children_before
    if users != TENANTS * USERS:
        raise SystemExit(f"the workers stored {users:,} users, not {TENANTS * USERS:,}")
    busy_s = float(busy[0] if busy else wall)
    return Run(count, wall, busy_s, [float(r[0]) for r in per_tenant], sim_cpu, worker_cpu)


def children_cpu() -> float:
    """User + system CPU seconds of this process's children that have ended (the workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def conninfo(url: str) -> str:
    """The libpq connection string of a SQLAlchemy URL, search path included."""
    from seatwise.workspace.queue import conninfo as make

    return make(url)


def main() -> None:
    """Queue every task of every tenant, run 1 worker then 2 on it, record the timings."""
    url = database_url()
    if url is None:
        print(
            "skipped: bench_workers needs PostgreSQL (SEATWISE_BENCH_DATABASE_URL or "
            "SEATWISE_TEST_DATABASE_URL)"
        )
        return
    load = os.getloadavg()[0]
    runs: list[Run] = []
    warm = False
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print(f"starting the simulator: {TENANTS} tenants of {USERS:,} users", flush=True)
        started = time.perf_counter()
        with simulator(workdir) as (info, sim):
            print(f"simulator ready in {time.perf_counter() - started:.1f} s", flush=True)
            # The first sync of a tenant also fills the simulator's caches (its reports):
            # one unrecorded run first, so that every measured run finds them warm.
            for count in (max(WORKER_COUNTS), *WORKER_COUNTS):
                with schema(url) as run_url:
                    env = seatwise_env(info, run_url, workdir / f"data-{count}")
                    jobs = queue_everything(info, env)
                    print(f"{count} worker(s): {jobs} jobs queued, running", flush=True)
                    run = run_workers(count, env, run_url, workdir, sim.pid)
                    if len(runs) < len(WORKER_COUNTS) and not warm:
                        warm = True
                        print(f"warm-up: {run.wall_s:.1f} s (not recorded)", flush=True)
                        continue
                    runs.append(run)
                    print(
                        f"{count} worker(s): {run.wall_s:.1f} s, "
                        f"{run.wall_s / TENANTS:.2f} s per tenant",
                        flush=True,
                    )
    base = runs[0].wall_s
    rows = "\n".join(
        f"| {r.workers} | {r.wall_s:.1f} s | {r.busy_s:.1f} s | {r.wall_s / TENANTS:.2f} s "
        f"| {statistics.mean(r.tenant_s):.2f} s | {base / r.wall_s:.2f}× "
        f"| {r.worker_cpu_s:.1f} s ({r.worker_cpu_s / r.wall_s:.2f} cores) "
        f"| {r.sim_cpu_s:.1f} s ({r.sim_cpu_s / r.wall_s:.0%} of a core) |"
        for r in runs
    )
    one, two = runs[0], runs[-1]
    slower = statistics.mean(two.tenant_s) / statistics.mean(one.tenant_s)
    record(
        "workers",
        f"Workers: {TENANTS} tenants × {USERS:,} users, 1 vs 2 workers (PostgreSQL)",
        f"""
A simulated host of {TENANTS} tenants of {USERS:,} users each (`seatwise simulate --tenants`),
registered app-only; every integration task of every tenant ({TENANTS * 4} jobs) queued at once
with `seatwise.workspace.queue.enqueue_sync`, then run by `seatwise worker --no-schedule
--concurrency 1` processes on a fresh PostgreSQL schema. Wall time runs from starting the
workers (start-up included) to the queue being empty; *busy* from the first job's start to the
last job's end, from Procrastinate's events. *Sync / tenant* is the sum of its four task runs
(`task_run.duration_s`), on average. An unrecorded run with two workers comes first, so that
every measured run finds the simulator's report caches warm. The simulator and PostgreSQL run
on the same machine and share its cores with the workers.

| workers | wall | busy | wall / tenant | sync / tenant | speed-up | workers' CPU | simulator CPU |
|---|---|---|---|---|---|---|---|
{rows}

With {two.workers} workers each tenant's sync took {slower:.2f}× as long as with one (the
workers share the machine's {os.cpu_count()} cores with PostgreSQL, the simulator and whatever
else runs), so the queue emptied {one.wall_s / two.wall_s:.2f}× as fast. *Workers' CPU* is the
user + system time of the worker processes: for the rest of the wall time they waited (on
PostgreSQL, Graph or a free core). Load average (1 min) before the runs: {load:.1f}.
""",
    )


if __name__ == "__main__":
    main()
