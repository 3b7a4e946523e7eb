"""Queuing jobs (`seatwise.workspace.queue`), in-process, no worker: one waiting job per task
(the queueing lock, and a sentence saying what is queued), the schedule's look at what is due
never queues a task twice even from several processes at once, the queue's tables made once by
any number of processes starting together, and the refusal on SQLite.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from seatwise.config import load_settings
from seatwise.errors import ConfigError, PlanError, SyncBusy
from seatwise.store.schema import ReclaimPlan
from seatwise.workspace import Workspace, queue
from seatwise.workspace.tenants import register
from tests.sync.conftest import Seatwise
from tests.worker.conftest import Db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _tenant(workspace: Workspace, name: str) -> int:
    row = register(
        workspace,
        name,
        str(uuid.uuid4()),
        str(uuid.uuid4()),
        "not a real secret",
        auth_mode="app",
        refresh=None,
    )
    return row.pk


def test_a_queued_task_is_refused_a_second_time(workspace: Workspace, db: Db) -> None:
    pk = _tenant(workspace, "contoso")
    (roster,) = queue.enqueue_sync(workspace, pk, ["roster"], started_by="test")
    with pytest.raises(SyncBusy) as refused:
        queue.enqueue_sync(workspace, pk, ["roster"], started_by="test again")
    assert str(refused.value) == (
        f"Tenant contoso already has Application Roster (job {roster}) queued; it runs as soon "
        "as a `seatwise worker` is free."
    )
    # All or nothing: a request naming a queued task queues none of its tasks.
    with pytest.raises(SyncBusy):
        queue.enqueue_sync(workspace, pk, ["license-info", "roster"], started_by="test")
    assert [j["task"] for j in db.sync_jobs()] == ["roster"]
    # Other tasks queue in dependency order, each its own job.
    ids = queue.enqueue_sync(workspace, pk, ["differentiation", "license-info"], started_by="t")
    assert [(j["id"], j["task"]) for j in db.sync_jobs()] == [
        (roster, "roster"),
        (ids[0], "license-info"),
        (ids[1], "differentiation"),
    ]
    # The queueing lock itself refuses a second waiting job, whoever queues it.
    raw = db.engine.raw_connection()
    try:
        with pytest.raises(Exception, match="queueing lock sync-"):
            queue._deferrer().configure_task(
                name=queue.SYNC_TASK,
                queueing_lock=f"sync-{pk}-roster",
                queue=queue.QUEUE,
                connection=raw.driver_connection,
            ).defer(tenant_pk=pk, task="roster", started_by="around the checks")
    finally:
        raw.rollback()
        raw.close()
    jobs = queue.recent_jobs(workspace, pk, 10)
    assert [(j["task"], j["state"], j["tenant"]) for j in jobs] == [
        ("differentiation", "queued", "contoso"),
        ("license-info", "queued", "contoso"),
        ("roster", "queued", "contoso"),
    ]
    assert all(j["queued_at"] and j["started_at"] is None and j["error"] is None for j in jobs)


def test_the_schedule_queues_what_is_due_once(workspace: Workspace, db: Db) -> None:
    first = _tenant(workspace, "first")
    second = _tenant(workspace, "second")
    queue.enqueue_sync(workspace, first, ["license-info"], started_by="seatwise sync --queue")
    queued = queue.enqueue_due(workspace, NOW)
    # Never synced: everything is due, except what waits in the queue already.
    assert queued == {
        "first": ["roster", "access", "differentiation"],
        "second": ["license-info", "roster", "access", "differentiation"],
    }
    assert queue.enqueue_due(workspace, NOW) == {}
    assert queue.enqueue_due(workspace, NOW + timedelta(minutes=5)) == {}
    jobs = db.sync_jobs()
    assert len(jobs) == 8
    assert {(j["tenant_pk"], j["task"]) for j in jobs} == {
        (pk, task) for pk in (first, second) for task in queue.TASKS
    }
    assert {j["started_by"] for j in jobs} == {"seatwise sync --queue", "the schedule"}


def test_looks_from_many_processes_at_once_queue_each_task_once(
    workspace: Workspace, db: Db
) -> None:
    for name in ("a", "b", "c"):
        _tenant(workspace, name)
    settings = load_settings()
    start = threading.Barrier(6)
    failures: list[BaseException] = []

    def look() -> None:
        ws = Workspace(settings)  # a process of its own: its own engine and connections
        try:
            start.wait()
            queue.enqueue_due(ws, NOW)
        except BaseException as exc:  # reported by the test
            failures.append(exc)
        finally:
            ws.close()

    threads = [threading.Thread(target=look) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    jobs = db.sync_jobs()
    assert len(jobs) == 12
    assert len({(j["tenant_pk"], j["task"]) for j in jobs}) == 12


def test_the_queue_tables_are_made_once_by_processes_starting_together(
    seatwise: Seatwise, db: Db
) -> None:
    settings = load_settings()
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def start_up() -> None:
        ws = Workspace(settings)
        try:
            start.wait()
            queue.ensure_queue_schema(ws)
        except BaseException as exc:
            failures.append(exc)
        finally:
            ws.close()

    threads = [threading.Thread(target=start_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    assert db.value("SELECT count(*) FROM procrastinate_jobs") == 0
    assert db.value("SELECT obj_description(to_regclass('procrastinate_jobs'), 'pg_class')") == (
        queue._version()
    )


def test_a_plan_has_one_waiting_job(workspace: Workspace, db: Db) -> None:
    pk = _tenant(workspace, "contoso")
    with workspace.session() as session:
        plan = ReclaimPlan(
            tenant_pk=pk, status="approved", rules=[], created_at=NOW, created_by="test"
        )
        session.add(plan)
        session.flush()
        plan_pk = plan.pk
    job = queue.enqueue_apply(workspace, pk, plan_pk, kind="apply", actor="admin")
    with pytest.raises(PlanError, match=f"already has a job waiting or running \\(job {job}\\)"):
        queue.enqueue_apply(workspace, pk, plan_pk, kind="undo", actor="admin")
    (listed,) = queue.recent_jobs(workspace, pk)
    assert listed["id"] == job and listed["kind"] == "apply" and listed["plan_pk"] == plan_pk
    assert listed["started_by"] == "admin" and listed["state"] == "queued"


@pytest.mark.parametrize(
    "call",
    [
        lambda ws: queue.enqueue_sync(ws, 1, ["roster"], started_by="test"),
        lambda ws: queue.enqueue_apply(ws, 1, 1, kind="apply", actor="test"),
        lambda ws: queue.recent_jobs(ws, 1),
        lambda ws: queue.enqueue_due(ws, NOW),
    ],
    ids=["sync", "apply", "jobs", "due"],
)
def test_the_queue_needs_postgresql(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, call: Callable[[Workspace], object]
) -> None:
    url = f"sqlite:///{tmp_path / 'seatwise.db'}"
    Seatwise(monkeypatch, tmp_path / "data", url)
    with Workspace(load_settings()) as ws, pytest.raises(ConfigError) as refused:
        call(ws)
    assert str(refused.value).startswith("The job queue needs PostgreSQL: set SEATWISE_DATABASE")
    assert not (tmp_path / "seatwise.db").exists()  # nothing made on the way


def test_conninfo_keeps_the_search_path() -> None:
    url = "postgresql+psycopg://u:p%40ss@db.example:5433/seatwise?options=-csearch_path%3Dx"
    assert conninfo_to_dict(queue.conninfo(url)) == {
        "host": "db.example",
        "port": "5433",
        "user": "u",
        "password": "p@ss",
        "dbname": "seatwise",
        "options": "-csearch_path=x",
    }
