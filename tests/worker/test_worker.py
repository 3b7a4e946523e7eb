"""`seatwise worker` as a real process against a simulated tenant over HTTPS: it runs queued
jobs and the schedules, retries transient Graph failures with backoff and never retries a
missing permission, stops on SIGTERM, and refuses SQLite with one sentence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seatwise.sync.lease import Lease
from seatwise.workspace import Workspace, queue
from tests.sync.conftest import Seatwise, serve
from tests.worker.conftest import Db, Workers, wait_for


def test_help_says_it_needs_postgresql(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cli = Seatwise(monkeypatch, tmp_path / "data", f"sqlite:///{tmp_path / 'seatwise.db'}")
    shown = cli("worker", "--help")
    assert shown.code == 0
    assert "Needs PostgreSQL" in " ".join(shown.out.split())


def test_on_sqlite_it_exits_3_with_one_sentence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cli = Seatwise(monkeypatch, tmp_path / "data", f"sqlite:///{tmp_path / 'seatwise.db'}")
    refused = cli("worker", "--concurrency", "2")
    assert refused.code == 3
    assert refused.out == ""
    lines = refused.err.strip().splitlines()
    assert lines == [
        "Error: seatwise worker needs PostgreSQL: set SEATWISE_DATABASE_URL to a postgresql:// "
        "URL (on SQLite, `seatwise serve` runs the schedules and `seatwise sync` runs tasks at "
        "once)."
    ]
    assert not (tmp_path / "seatwise.db").exists()


def _job_status(db: Db, job_id: int) -> dict[str, Any] | None:
    rows = db.rows(
        "SELECT status::text AS status, attempts FROM procrastinate_jobs WHERE id = :id", id=job_id
    )
    return rows[0] if rows else None


def _finished(db: Db, ids: list[int]) -> bool:
    return all(
        (s := _job_status(db, i)) is not None and s["status"] not in ("todo", "doing") for i in ids
    )


def test_queued_tasks_run_on_a_worker(
    seatwise: Seatwise, workspace: Workspace, workers: Workers, db: Db, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=60) as sim:
        assert seatwise.add_app_only(sim).code == 0
        pk = db.value("SELECT pk FROM tenant WHERE name = 'sim'")
        ids = queue.enqueue_sync(workspace, pk, list(queue.TASKS), started_by="a test")
        assert [j["state"] for j in queue.recent_jobs(workspace, pk)] == ["queued"] * 4
        worker = workers.start("--no-schedule")
        wait_for("the four jobs to end", lambda: _finished(db, ids), workers=workers)
        assert workers.stop(worker) == 0
        users = seatwise("users", "--format", "json").json()
    jobs = queue.recent_jobs(workspace, pk)
    assert [(j["id"], j["task"], j["state"], j["retries"]) for j in jobs] == [
        (job_id, task, "succeeded", 0)
        for job_id, task in reversed(list(zip(ids, queue.TASKS, strict=True)))
    ]
    assert all(j["started_at"] <= j["finished_at"] and j["error"] is None for j in jobs)
    assert all(j["started_by"] == "a test" for j in jobs)
    runs = db.runs()
    assert [(r["task"], r["status"]) for r in runs] == [(t, "succeeded") for t in queue.TASKS]
    assert len(users) == len(sim.tenant.users)
    log = worker.log()
    assert "Traceback" not in log and "seatwise worker: 1 job at a time" in log


def test_the_schedule_runs_due_tasks_once(
    seatwise: Seatwise, workers: Workers, db: Db, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=30) as sim:
        assert seatwise.add_app_only(sim).code == 0
        worker = workers.start("--tick", "* * * * * */2")

        def synced() -> bool:
            done = {r["task"] for r in db.runs() if r["status"] == "succeeded"}
            return done == set(queue.TASKS)

        wait_for("the scheduled sync", synced, workers=workers)
        ticks_then = db.value(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'seatwise.schedule' "
            "AND status = 'succeeded'"
        )
        # Three more looks at the schedule find nothing due.
        wait_for(
            "three more looks at the schedule",
            lambda: (
                db.value(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'seatwise.schedule' "
                    "AND status = 'succeeded'"
                )
                >= ticks_then + 3
            ),
            workers=workers,
        )
        assert workers.stop(worker) == 0
    jobs = db.sync_jobs()
    assert sorted(j["task"] for j in jobs) == sorted(queue.TASKS)
    assert {j["started_by"] for j in jobs} == {"the schedule"}
    assert len(db.runs()) == 4


def test_a_transient_graph_failure_is_retried_with_backoff(
    seatwise: Seatwise, workspace: Workspace, workers: Workers, db: Db, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=30) as sim:
        assert seatwise.add_app_only(sim).code == 0
        pk = db.value("SELECT pk FROM tenant WHERE name = 'sim'")
        sim.control("faults", {"spec": "throttle=1.0,retry_after=0.01"})  # Graph refuses all
        (job,) = queue.enqueue_sync(workspace, pk, ["license-info"], started_by="a test")
        workers.start("--no-schedule")
        wait_for(
            "the first failed run",
            lambda: any(r["status"] == "failed" for r in db.runs()),
            workers=workers,
        )
        retrying = wait_for(
            "the job to wait for its retry",
            lambda: [j for j in queue.recent_jobs(workspace, pk) if j["state"] == "retrying"],
            workers=workers,
        )
        sim.control("faults", {"spec": ""})  # Graph is back
        wait_for("the job to end", lambda: _finished(db, [job]), workers=workers)
    assert retrying[0]["id"] == job and retrying[0]["error"]
    assert retrying[0]["scheduled_at"] is not None  # not before its backoff
    status = _job_status(db, job)
    assert status is not None and status["status"] == "succeeded"
    assert status["attempts"] >= 2  # failed, retried, then succeeded
    assert "deferred_for_retry" in db.events(job)
    runs = db.runs()
    assert [r["status"] for r in runs][-1] == "succeeded"
    assert {r["status"] for r in runs[:-1]} == {"failed"}
    assert "Graph kept answering 429" in runs[0]["error"]


def test_a_missing_permission_is_not_retried(
    seatwise: Seatwise, workspace: Workspace, workers: Workers, db: Db, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=30) as sim:
        assert seatwise.add_app_only(sim).code == 0
        pk = db.value("SELECT pk FROM tenant WHERE name = 'sim'")
        sim.tenant.app.application_permissions.discard("AuditLog.Read.All")
        ids = queue.enqueue_sync(workspace, pk, ["license-info", "roster"], started_by="test")
        worker = workers.start("--no-schedule")
        wait_for("both jobs to end", lambda: _finished(db, ids), workers=workers)
        assert workers.stop(worker) == 0
    info, roster = (_job_status(db, i) for i in ids)
    assert info == {"status": "succeeded", "attempts": 1}
    assert roster == {"status": "failed", "attempts": 1}  # one run, no retry
    assert "deferred_for_retry" not in db.events(ids[1])
    (failed,) = [r for r in db.runs() if r["status"] == "failed"]
    assert failed["task"] == "roster" and "needs permission AuditLog.Read.All" in failed["error"]
    newest = queue.recent_jobs(workspace, pk)[0]
    assert newest["state"] == "failed" and "AuditLog.Read.All" in newest["error"]
    log = worker.log()
    assert "needs permission AuditLog.Read.All" in log and "Traceback" not in log


def test_credentials_refused_before_the_task_are_recorded(
    seatwise: Seatwise, workspace: Workspace, workers: Workers, db: Db, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=30) as sim:
        assert seatwise.add_app_only(sim).code == 0
        pk = db.value("SELECT pk FROM tenant WHERE name = 'sim'")
        with db.engine.begin() as connection:  # the stored secret is gone
            connection.exec_driver_sql("UPDATE tenant SET secret_enc = NULL")
        (job,) = queue.enqueue_sync(workspace, pk, ["license-info"], started_by="test")
        worker = workers.start("--no-schedule")
        wait_for("the job to end", lambda: _finished(db, [job]), workers=workers)
        assert workers.stop(worker) == 0
    assert _job_status(db, job) == {"status": "failed", "attempts": 1}
    (run,) = db.runs()
    assert run["status"] == "failed" and "has no stored client secret" in run["error"]
    # The schedule counts it as tried: not queued again before the next slot.
    due = queue.enqueue_due(workspace, run["started_at"])
    assert due == {"sim": ["roster", "access", "differentiation"]}


def test_a_job_waits_for_a_sync_running_elsewhere_and_does_not_repeat_it(
    seatwise: Seatwise, workspace: Workspace, workers: Workers, db: Db, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=30) as sim:
        assert seatwise.add_app_only(sim).code == 0
        pk = db.value("SELECT pk FROM tenant WHERE name = 'sim'")
        # `seatwise sync` (say) holds the tenant's lease: the job is refused, and waits.
        lease = Lease.take(workspace.engine, pk, "seatwise sync")
        (busy,) = queue.enqueue_sync(workspace, pk, ["license-info"], started_by="test")
        worker = workers.start("--no-schedule")
        waiting = wait_for(
            "the job to wait for the lease",
            lambda: [j for j in queue.recent_jobs(workspace, pk) if j["state"] == "retrying"],
            workers=workers,
        )
        lease.release()
        wait_for("the job to end", lambda: _finished(db, [busy]), workers=workers)
        assert workers.stop(worker) == 0
        assert waiting[0]["id"] == busy
        assert _job_status(db, busy) == {"status": "succeeded", "attempts": 2}
        assert [r["status"] for r in db.runs()] == ["succeeded"]

        # A sync that ran after the job was queued leaves the job nothing to do.
        (late,) = queue.enqueue_sync(workspace, pk, ["roster"], started_by="test")
        ran = seatwise("sync", "--task", "roster")
        assert ran.code == 0, ran.err
        workers.start("--no-schedule")
        wait_for("the job to end", lambda: _finished(db, [late]), workers=workers)
    assert _job_status(db, late) == {"status": "succeeded", "attempts": 1}
    assert [r["task"] for r in db.runs()] == ["license-info", "roster"]


def test_a_reclamation_plan_is_applied_and_undone_by_jobs(
    seatwise: Seatwise, workspace: Workspace, workers: Workers, db: Db, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=300) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        pk = db.value("SELECT pk FROM tenant WHERE name = 'sim'")
        made = seatwise("reclaim", "plan")
        assert made.code == 0, made.err
        plan = int(made.out.strip())
        assert seatwise("reclaim", "approve", str(plan)).code == 0
        removals = {
            (lic["user_id"], lic["sku_id"])
            for lic in seatwise("reclaim", "show", str(plan), "--format", "json").json()["licences"]
            if lic["action"].startswith("remove")
        }
        assert removals
        before = {u.id: {s.sku_id for s in u.licenses} for u in sim.tenant.users}
        job = queue.enqueue_apply(workspace, pk, plan, kind="apply", actor="admin (web)")
        worker = workers.start("--no-schedule")
        wait_for("the apply job to end", lambda: _finished(db, [job]), workers=workers)
        applied = seatwise("reclaim", "show", str(plan), "--format", "json").json()
        after_apply = {u.id: {s.sku_id for s in u.licenses} for u in sim.tenant.users}
        calls = sim.tenant.assign_calls
        undo = queue.enqueue_apply(workspace, pk, plan, kind="undo", actor="admin (web)")
        wait_for("the undo job to end", lambda: _finished(db, [undo]), workers=workers)
        assert workers.stop(worker) == 0
        undone = seatwise("reclaim", "show", str(plan), "--format", "json").json()
        after_undo = {u.id: {s.sku_id for s in u.licenses} for u in sim.tenant.users}
    assert _job_status(db, job) == {"status": "succeeded", "attempts": 1}
    assert applied["status"] == "applied"
    assert {(uid, sku) for uid, skus in before.items() for sku in skus - after_apply[uid]} == (
        removals
    )
    assert calls == len({uid for uid, _ in removals})  # one call per user, none twice
    assert _job_status(db, undo) == {"status": "succeeded", "attempts": 1}
    assert undone["status"] == "undone" and after_undo == before
    jobs = queue.recent_jobs(workspace, pk, 2)
    assert [(j["kind"], j["plan_pk"], j["state"], j["started_by"]) for j in jobs] == [
        ("undo", plan, "succeeded", "admin (web)"),
        ("apply", plan, "succeeded", "admin (web)"),
    ]
