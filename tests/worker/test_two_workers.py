"""The proof of `seatwise worker` past one machine: three simulated tenants, two worker
processes, two looks at the schedules a (simulated) two days apart, and one worker killed with
SIGKILL in the middle of a task.

Every tenant is synced exactly once per look (one job and one successful run per task), no
tenant ever has two runs at once, the killed worker's job is taken over by the other one
(stalled-job recovery) and the data ends identical to a clean sync into another database.
"""

from __future__ import annotations

import os
import signal
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from seatwise.simulator import Tenant as SimTenant
from seatwise.simulator import create_app
from seatwise.simulator.server import running
from seatwise.sync.runner import INTERRUPTED
from seatwise.workspace import Workspace, queue
from tests.sync.conftest import NOW, Seatwise, Sim
from tests.worker.conftest import Db, Workers, wait_for

TENANTS = 3
USERS = 80


@contextmanager
def three_tenants(directory: Path) -> Iterator[tuple[list[SimTenant], Sim]]:
    """Three tenants served from one simulator host (as Microsoft serves them all)."""
    tenants = SimTenant.create_many(TENANTS, users=USERS, seed=21, now=NOW, report_throttle=False)
    app = create_app(tenants)
    directory.mkdir(parents=True, exist_ok=True)
    with running(app, directory) as server:
        yield tenants, Sim(tenants[0], server, app.state.sim.tokens)


def add_tenants(cli: Seatwise, tenants: list[SimTenant], sim: Sim) -> list[str]:
    """Register every simulated tenant (app-only) with `cli`; their names."""
    cli.point_at(sim)
    names = []
    for index, tenant in enumerate(tenants):
        variable = f"SIM_SECRET_{index}"
        cli.monkeypatch.setenv(variable, tenant.app.client_secret)
        name = f"t{index}"
        added = cli(
            "tenant",
            "add",
            name,
            "--tenant-id",
            tenant.tenant_id,
            "--client-id",
            tenant.app.client_id,
            "--client-secret-env",
            variable,
        )
        assert added.code == 0, added.err
        names.append(name)
    return names


def snapshot(cli: Seatwise, names: list[str]) -> dict[str, tuple[Any, Any]]:
    """Each tenant's users and licences, as `seatwise users|licenses --format json` print them."""
    found = {}
    for name in names:
        users = cli("users", "--tenant", name, "--format", "json")
        licenses = cli("licenses", "--tenant", name, "--format", "json")
        assert users.code == 0 and licenses.code == 0, users.err + licenses.err
        found[name] = (users.json(), licenses.json())
    return found


def assert_one_run_at_a_time(runs: list[dict[str, Any]]) -> None:
    """No tenant has two task runs whose times overlap."""
    by_tenant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by_tenant[run["tenant"]].append(run)
    for tenant, own in by_tenant.items():
        own.sort(key=lambda r: (r["started_at"], r["pk"]))
        for before, after in zip(own, own[1:], strict=False):
            assert before["finished_at"] is not None, before
            assert before["finished_at"] <= after["started_at"], (tenant, before, after)


def synced_once_each(db: Db, after: int, names: list[str]) -> bool:
    """Whether every task of every tenant has a successful run after run `after`, and no sync
    job waits or runs."""
    done = {(r["tenant"], r["task"]) for r in db.runs(after) if r["status"] == "succeeded"}
    wanted = {(n, t) for n in names for t in queue.TASKS}
    return done == wanted and db.unfinished_syncs() == 0


def test_two_workers_sync_each_tenant_once_per_tick_and_survive_a_kill(
    seatwise: Seatwise,
    workspace: Workspace,
    workers: Workers,
    db: Db,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    other_pg_url: str,
) -> None:
    with three_tenants(tmp_path / "sim") as (tenants, sim):
        names = add_tenants(seatwise, tenants, sim)
        # The daily slot far from now, so that the workers' own looks at the real clock find
        # nothing due once the first look ran, even if the test straddles the slot.
        hour = (datetime.now(UTC).hour + 12) % 24
        with db.engine.begin() as connection:
            connection.exec_driver_sql(f"UPDATE tenant SET sync_hour = {hour}")
        # Both workers also look at the schedules themselves, every 5 s: any number of
        # workers may; a task is never queued twice.
        first = workers.start("--tick", "* * * * * */5")
        second = workers.start("--tick", "* * * * * */5")
        wait_for("both workers to start", lambda: db.workers() == 2, workers=workers)

        # Tick 1: nothing synced yet, so every task of every tenant is due.
        tick1_at = datetime.now(UTC)
        tick1 = queue.enqueue_tick(workspace, tick1_at)
        wait_for(
            "every tenant synced after the first tick",
            lambda: synced_once_each(db, 0, names) and _ended(db, tick1),
            workers=workers,
        )
        runs1 = db.runs()
        assert sorted((r["tenant"], r["task"]) for r in runs1) == sorted(
            (n, t) for n in names for t in queue.TASKS
        )
        assert {r["status"] for r in runs1} == {"succeeded"}
        jobs1 = db.sync_jobs()
        pks = [row["pk"] for row in db.rows("SELECT pk FROM tenant")]
        assert Counter((j["tenant_pk"], j["task"]) for j in jobs1) == Counter(
            {(pk, t): 1 for pk in pks for t in queue.TASKS}
        )
        assert {j["status"] for j in jobs1} == {"succeeded"}
        mark = max(r["pk"] for r in runs1)

        # Tick 2, two days on: everything is due again. Graph slows down, so that tasks take
        # a while, and the first worker is killed in the middle of one.
        sim.control("faults", {"spec": "latency=200ms"})
        tick2 = queue.enqueue_tick(workspace, tick1_at + timedelta(days=2))
        victim = wait_for(
            "the first worker to be in the middle of a task",
            lambda: db.value(
                "SELECT l.tenant_pk FROM sync_lease l JOIN task_run r "
                "ON r.tenant_pk = l.tenant_pk AND r.status = 'running' AND r.pk > :mark "
                "AND r.task <> 'differentiation' "  # no Graph calls: over too soon
                "WHERE l.holder LIKE :holder LIMIT 1",
                mark=mark,
                holder=f"%:{first.pid}:%",
            ),
            workers=workers,
            poll_s=0.01,
        )
        os.kill(first.pid, signal.SIGKILL)
        first.proc.wait(timeout=60)
        wait_for(
            "the other worker to finish the second tick",
            lambda: synced_once_each(db, mark, names) and _ended(db, tick2),
            workers=workers,
            killed=first,
        )
        sim.control("faults", {"spec": ""})
        runs2 = db.runs(mark)
        after_kill = snapshot(seatwise, names)
        assert workers.stop(second) == 0

        # A clean sync of the same tenants into another database.
        fresh = Seatwise(monkeypatch, tmp_path / "fresh", other_pg_url)
        add_tenants(fresh, tenants, sim)
        for name in names:
            synced = fresh("sync", "--tenant", name)
            assert synced.code == 0, synced.err
        clean = snapshot(fresh, names)

    # Exactly one successful run per task and tenant in the second tick; the killed run is
    # recorded as interrupted, and its job ran again on the other worker.
    succeeded = Counter((r["tenant"], r["task"]) for r in runs2 if r["status"] == "succeeded")
    assert succeeded == Counter({(n, t): 1 for n in names for t in queue.TASKS})
    (killed,) = [r for r in runs2 if r["status"] != "succeeded"]
    assert killed["tenant_pk"] == victim and killed["error"] == INTERRUPTED
    jobs2 = [j for j in db.sync_jobs() if j["id"] > max(j["id"] for j in jobs1)]
    assert Counter((j["tenant_pk"], j["task"]) for j in jobs2) == Counter(
        {(pk, t): 1 for pk in pks for t in queue.TASKS}
    )
    assert {j["status"] for j in jobs2} == {"succeeded"}
    (taken_over,) = [j for j in jobs2 if (j["tenant_pk"], j["task"]) == (victim, killed["task"])]
    assert taken_over["attempts"] >= 2
    assert "deferred_for_retry" in db.events(taken_over["id"])
    assert f"Job {taken_over['id']} (seatwise.sync) of a stalled worker queued again" in (
        second.log()
    )
    # Never two runs of one tenant at once, through both ticks and the kill.
    assert_one_run_at_a_time(db.runs())
    # The data is what an undisturbed sync gives.
    assert after_kill == clean
    assert [len(clean[n][0]) for n in names] == [len(t.users) for t in tenants]
    assert "Traceback" not in second.log()


def _ended(db: Db, job_id: int) -> bool:
    status = db.value("SELECT status::text FROM procrastinate_jobs WHERE id = :id", id=job_id)
    return status == "succeeded"
