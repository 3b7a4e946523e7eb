"""The front ends on PostgreSQL hand syncs to the workers: `seatwise sync --queue` and the
Tasks page's Run now queue jobs and return at once, `seatwise tasks` and the Tasks page show
them queued, then finished by a real `seatwise worker`; `seatwise serve` leaves the schedule to
the workers. On SQLite `--queue` is refused with one sentence.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from seatwise.cli.web import served_app
from seatwise.config import load_settings
from seatwise.workspace import Workspace, queue
from seatwise.workspace.accounts import create_user
from tests.sync.conftest import Seatwise, serve
from tests.worker.conftest import Db, Workers, wait_for

PASSWORD = "correct horse battery"


def _csrf(text: str) -> str:
    return text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_queue_from_the_cli_and_the_tasks_page(
    seatwise: Seatwise,
    workspace: Workspace,
    workers: Workers,
    db: Db,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    with serve(tmp_path / "sim", users=40) as sim:
        assert seatwise.add_app_only(sim).code == 0
        queued = seatwise("sync", "--queue", "--task", "license-info")
        assert queued.code == 0, queued.err
        ids = [int(i) for i in queued.out.split()]
        assert len(ids) == 1 and "A `seatwise worker` runs them" in queued.err
        again = seatwise("sync", "--queue", "--task", "license-info")
        assert again.code == 5 and "already has License Information (job" in again.err
        listed = seatwise("tasks")
        assert listed.code == 0 and "Jobs of sim" in listed.out and "queued" in listed.out

        app = served_app(load_settings())
        request.addfinalizer(app.state.web.engine.dispose)
        assert not hasattr(app.state, "scheduler")  # the workers schedule on PostgreSQL
        with app.state.web.session() as session:
            create_user(session, "admin", PASSWORD, "admin")
        with TestClient(app, base_url="http://127.0.0.1") as browser:
            form = browser.get("/login")
            signed = browser.post(
                "/login",
                data={
                    "username": "admin",
                    "password": PASSWORD,
                    "csrf_token": _csrf(form.text),
                    "next": "/",
                },  # fmt: skip
                follow_redirects=False,
            )
            assert signed.status_code == 303
            page = browser.get("/tasks")
            assert 'id="jobs"' in page.text and f'data-job="{ids[0]}"' in page.text
            run = browser.post(
                "/tasks/run",
                data={"tenant": "sim", "task": "all", "csrf_token": _csrf(page.text)},
                follow_redirects=False,
            )
            assert run.status_code == 409  # License Information is still queued
            assert "already has License Information" in run.text
            worker = workers.start("--no-schedule")
            wait_for("the queued job to end", lambda: not db.unfinished_syncs(), workers=workers)
            run = browser.post(
                "/tasks/run",
                data={"tenant": "sim", "task": "all", "csrf_token": _csrf(page.text)},
                follow_redirects=False,
            )
            assert run.status_code == 303
            shown = browser.get("/tasks").text
            assert "Queued all tasks for sim (job" in shown
            wait_for("the four jobs to end", lambda: not db.unfinished_syncs(), workers=workers)
            shown = browser.get("/tasks").text
            assert shown.count('class="job succeeded"') == 5
        assert workers.stop(worker) == 0
    pk = db.value("SELECT pk FROM tenant WHERE name = 'sim'")
    assert [j["state"] for j in queue.recent_jobs(workspace, pk)] == ["succeeded"] * 5
    assert [(r["task"], r["status"]) for r in db.runs()] == [
        ("license-info", "succeeded"),
        *((t, "succeeded") for t in queue.TASKS),
    ]


def _signed_in(app: object) -> TestClient:
    browser = TestClient(app, base_url="http://127.0.0.1")  # type: ignore[arg-type]
    form = browser.get("/login")
    signed = browser.post(
        "/login",
        data={
            "username": "admin",
            "password": PASSWORD,
            "csrf_token": _csrf(form.text),
            "next": "/",
        },  # fmt: skip
        follow_redirects=False,
    )
    assert signed.status_code == 303
    return browser


def test_apply_from_the_plan_page_is_a_job(
    seatwise: Seatwise, workers: Workers, db: Db, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim", users=120) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        made = seatwise("reclaim", "plan", "--rule", "blocked")
        assert made.code == 0, made.err
        plan = int(made.out.strip())
        assert seatwise("reclaim", "approve", str(plan)).code == 0
        app = served_app(load_settings())
        request.addfinalizer(app.state.web.engine.dispose)
        with app.state.web.session() as session:
            create_user(session, "admin", PASSWORD, "admin")
        with _signed_in(app) as browser:
            page = browser.get(f"/reclamation/plans/{plan}")
            applied = browser.post(
                f"/reclamation/plans/{plan}/apply",
                data={"confirm": "true", "csrf_token": _csrf(page.text)},
                follow_redirects=False,
            )
            assert applied.status_code == 303
            shown = browser.get(f"/reclamation/plans/{plan}").text
            assert 'id="queued-job"' in shown and "<strong>queued</strong>" in shown
            assert sim.tenant.assign_calls == 0  # nothing sent from the web process
            again = browser.post(
                f"/reclamation/plans/{plan}/apply",
                data={"confirm": "true", "csrf_token": _csrf(page.text)},
                follow_redirects=False,
            )
            assert again.status_code == 409 and "already has a job" in again.text
            worker = workers.start("--no-schedule")
            wait_for(
                "the apply job to end",
                lambda: (
                    "<strong>succeeded</strong>" in browser.get(f"/reclamation/plans/{plan}").text
                ),
                workers=workers,
            )
            assert workers.stop(worker) == 0
        shown = seatwise("reclaim", "show", str(plan), "--format", "json").json()
        assert shown["status"] == "applied"
        assert sim.tenant.assign_calls == shown["users"] > 0


def test_queue_needs_postgresql(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cli = Seatwise(monkeypatch, tmp_path / "data", f"sqlite:///{tmp_path / 'seatwise.db'}")
    with serve(tmp_path / "sim", users=20) as sim:
        assert cli.add_app_only(sim).code == 0
        refused = cli("sync", "--queue")
    assert refused.code == 3 and refused.out == ""
    assert "seatwise sync --queue needs PostgreSQL" in refused.err
    assert "Traceback" not in refused.err
