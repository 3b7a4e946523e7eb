"""The Tasks page and the in-process scheduler, against the simulator as a real HTTPS server:
Run now starts a real sync in the web process (admins only, one per tenant at a time), the page
follows it to the end; the scheduler starts due tasks and is run by the app's lifespan.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from seatwise.store.schema import TaskRun, Tenant
from seatwise.sync import TASKS
from seatwise.sync.lease import Lease
from seatwise.web.app import create_app
from seatwise.web.runner import runner_for
from seatwise.web.scheduler import Scheduler, install
from seatwise.workspace.schedules import due_tasks, last_slot
from tests.sync.conftest import Seatwise, Sim
from tests.sync.conftest import serve as serve_sim
from tests.web.conftest import Web, screenshot, sign_in

USERS = 80


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite: there the web process runs syncs itself (Run now and the in-process scheduler).
    On PostgreSQL Run now queues jobs for `seatwise worker` (tests/worker/test_front_ends.py)."""
    return f"sqlite:///{tmp_path / 'seatwise.db'}"


@pytest.fixture
def sim(seatwise: Seatwise, tmp_path: Path) -> Iterator[Sim]:
    """A simulated tenant registered as `sim`, never synced (requested before `web`, so the
    app's settings point at it)."""
    with serve_sim(tmp_path / "sim", users=USERS) as served:
        assert seatwise.add_app_only(served).code == 0
        yield served


def _runs(web: Web) -> list[tuple[str, str]]:
    with web.app.state.web.session() as session:
        return [
            (r.task, r.status)
            for r in session.scalars(select(TaskRun).order_by(TaskRun.started_at, TaskRun.pk))
        ]


def _csrf(text: str) -> str:
    return text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def _wait_until(check: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_run_now_runs_a_sync_shown_on_the_page(sim: Sim, web: Web, page: Any) -> None:
    sign_in(page, "admin")
    page.goto("/tasks")
    assert page.locator("#latest-runs .badge", has_text="never run").count() == len(TASKS)
    page.select_option("#run-now select[name=task]", "all")
    page.click("#run-now button[type=submit]")
    page.wait_for_url("**/tasks?tenant=sim")
    # The page refreshes itself while the sync runs, until every task has succeeded.
    expect(page.locator("#latest-runs .badge.good")).to_have_count(len(TASKS), timeout=90_000)
    expect(page.locator("#sync-running")).to_have_count(0, timeout=10_000)
    assert runner_for(web.app).wait(30)
    assert sorted(_runs(web)) == sorted((t, "succeeded") for t in TASKS)
    rows = page.locator("#task-runs tbody tr.run.succeeded")
    assert rows.count() == len(TASKS)
    assert "users" in page.locator("#task-runs").inner_text()
    screenshot(page, "tasks")


def test_viewer_may_not_run_now(sim: Sim, web: Web) -> None:
    with web.client() as client:
        web.login(client, "viewer")
        shown = client.get("/tasks")
        assert shown.status_code == 200 and 'id="run-now"' not in shown.text
        refused = client.post(
            "/tasks/run", data={"tenant": "sim", "task": "all", "csrf_token": _csrf(shown.text)}
        )
        assert refused.status_code == 403
    time.sleep(0.5)
    assert _runs(web) == []


def test_a_second_run_now_is_refused_while_one_runs(sim: Sim, web: Web) -> None:
    sim.control("faults", {"spec": "latency=150ms"})  # every Graph request takes a while
    with web.client() as client:
        web.login(client, "admin")
        token = _csrf(client.get("/tasks").text)
        first = client.post(
            "/tasks/run", data={"tenant": "sim", "task": "roster", "csrf_token": token}
        )
        assert first.status_code == 303
        started = client.get(first.headers["location"])
        assert "Started Application Roster for sim." in started.text
        assert 'id="sync-running"' in started.text and 'http-equiv="refresh"' in started.text
        second = client.post(
            "/tasks/run", data={"tenant": "sim", "task": "license-info", "csrf_token": token}
        )
        assert second.status_code == 409
        assert "A sync of sim is already running" in second.text
        no_csrf = client.post("/tasks/run", data={"tenant": "sim", "task": "all"})
        assert no_csrf.status_code == 403
        sim.control("faults", {"spec": ""})
        assert runner_for(web.app).wait(60)
        done = client.get("/tasks")
        assert 'http-equiv="refresh"' not in done.text
    assert _runs(web) == [("roster", "succeeded")]


def test_run_now_is_refused_while_another_process_syncs(sim: Sim, web: Web) -> None:
    state = web.app.state.web
    with state.session() as session:
        tenant_pk = session.scalars(select(Tenant.pk)).one()
    with web.client() as client:
        web.login(client, "admin")
        token = _csrf(client.get("/tasks").text)
        with Lease.take(state.engine, tenant_pk, "seatwise sync"):
            refused = client.post(
                "/tasks/run", data={"tenant": "sim", "task": "roster", "csrf_token": token}
            )
            assert refused.status_code == 409
            assert "Tenant sim is already being synced (seatwise sync, since" in refused.text
            shown = client.get("/tasks").text
            assert "is running\n  (seatwise sync, since" in shown
            assert '<button type="submit" disabled>Run now</button>' in shown
            assert 'http-equiv="refresh"' in shown
            assert Scheduler(state.engine, runner_for(web.app)).run_due() == {}
        assert runner_for(web.app).running(tenant_pk) is None
        started = client.post(
            "/tasks/run", data={"tenant": "sim", "task": "roster", "csrf_token": token}
        )
        assert started.status_code == 303
        assert runner_for(web.app).wait(60)
    assert _runs(web) == [("roster", "succeeded")]


def test_an_unknown_task_is_refused(sim: Sim, web: Web) -> None:
    with web.client() as client:
        web.login(client, "admin")
        token = _csrf(client.get("/tasks").text)
        unknown = client.post(
            "/tasks/run", data={"tenant": "sim", "task": "nope", "csrf_token": token}
        )
        assert unknown.status_code == 422 and "There is no task" in unknown.text
    assert _runs(web) == []


def test_due_tasks() -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert due_tasks({}, now) == list(TASKS)
    recent = dict.fromkeys(TASKS, now - timedelta(hours=1))
    assert due_tasks(recent, now) == []
    # The daily slot was at 02:00 today: tasks last started before it are due again;
    # License Information only once 24 hours have passed.
    before_slot = dict.fromkeys(TASKS, now - timedelta(hours=11))
    assert due_tasks(before_slot, now) == ["roster", "access", "differentiation"]
    assert due_tasks(before_slot, now, sync_hour=13) == []  # today's 13:00 slot is to come
    only_access = {**recent, "access": now - timedelta(hours=11)}
    assert due_tasks(only_access, now) == ["access", "differentiation"]
    day_old = dict.fromkeys(TASKS, now - timedelta(hours=25))
    assert due_tasks(day_old, now) == list(TASKS)
    assert due_tasks(day_old, now, disabled=["license-info"]) == [
        "roster",
        "access",
        "differentiation",
    ]
    assert due_tasks(day_old, now, disabled=["roster", "access"]) == [
        "license-info",
        "differentiation",
    ]
    assert due_tasks({}, now, disabled=["differentiation"]) == ["license-info", "roster", "access"]
    assert last_slot(now, 2) == datetime(2026, 11, 20, 2, tzinfo=UTC)
    assert last_slot(now, 12) == now
    assert last_slot(now, 13) == datetime(2026, 11, 19, 13, tzinfo=UTC)


def test_scheduler_runs_due_tasks(sim: Sim, web: Web) -> None:
    start = datetime.now(UTC)
    clock = [start]
    runner = runner_for(web.app)
    scheduler = Scheduler(web.app.state.web.engine, runner, clock=lambda: clock[0])
    assert scheduler.run_due() == {"sim": list(TASKS)}
    assert scheduler.run_due() == {}  # that sync still runs: never two at once
    assert runner.wait(60)
    assert sorted(_runs(web)) == sorted((t, "succeeded") for t in TASKS)
    assert scheduler.run_due() == {}  # nothing is due yet
    # Past the next daily slot (the tenant's hour, 02:00 UTC by default), within 24 hours.
    clock[0] = last_slot(start, 2) + timedelta(days=1, minutes=1)
    assert scheduler.run_due() == {"sim": ["roster", "access", "differentiation"]}
    assert runner.wait(60)
    assert [r for r in _runs(web) if r[0] == "license-info"] == [("license-info", "succeeded")]
    assert len(_runs(web)) == 7


def test_switched_off_tasks_are_not_scheduled(sim: Sim, web: Web, seatwise: Seatwise) -> None:
    done = seatwise("tenant", "schedule", "sim", "--hour", "5", "--disable", "license-info")
    assert done.code == 0, done.err
    assert "daily at 05:00 UTC" in done.err and "switched off: license-info" in done.err
    refused = seatwise("tenant", "schedule", "sim", "--hour", "24")
    assert refused.code == 2 and "0 to 23" in refused.err
    scheduler = Scheduler(web.app.state.web.engine, runner_for(web.app))
    assert scheduler.run_due() == {"sim": ["roster", "access", "differentiation"]}
    assert runner_for(web.app).wait(60)
    assert sorted(_runs(web)) == sorted(
        (t, "succeeded") for t in ("roster", "access", "differentiation")
    )


def test_scheduler_runs_with_the_app_lifespan(sim: Sim, web: Web) -> None:
    app = create_app(web.settings)
    scheduler = install(app, tick=0.1)

    async def serve_a_while() -> None:
        async with app.router.lifespan_context(app):
            await asyncio.to_thread(
                _wait_until, lambda: len([r for r in _runs(web) if r[1] == "succeeded"]) == 4
            )

    # On a thread of its own: Playwright's sync API may hold an event loop on this one.
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(serve_a_while())
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=serve)
    try:
        thread.start()
        thread.join(120)
    finally:
        app.state.web.engine.dispose()
    assert not thread.is_alive() and not failures, failures
    assert scheduler._thread is None  # stopped with the app
    assert sorted(_runs(web)) == sorted((t, "succeeded") for t in TASKS)


def test_a_sync_that_cannot_start_says_why_and_is_not_retried_each_tick(sim: Sim, web: Web) -> None:
    with web.app.state.web.session() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.name == "sim"))
        assert tenant is not None
        tenant.secret_enc = None  # as if the secret were lost: no Graph client can be built
    with web.client() as client:
        web.login(client, "admin")
        token = _csrf(client.get("/tasks").text)
        started = client.post("/tasks/run", data={"tenant": "sim", "csrf_token": token})
        assert started.status_code == 303
        assert runner_for(web.app).wait(30)
        shown = client.get("/tasks")
        assert "The last sync of sim stopped: Tenant sim has no stored client secret" in shown.text
    scheduler = Scheduler(web.app.state.web.engine, runner_for(web.app))
    assert scheduler.run_due() == {"sim": list(TASKS)}
    assert runner_for(web.app).wait(30)
    assert scheduler.run_due() == {}  # tried; next time when the interval has passed
    assert _runs(web) == []
