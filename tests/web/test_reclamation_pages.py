"""Recommendations → plan → approve → apply → audit in real Chromium, against the simulator;
viewers see no actions and cannot post them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.sync.conftest import Seatwise, Sim, serve
from tests.web.conftest import Web, screenshot, sign_in


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite: there the web process applies plans itself; on PostgreSQL it queues a job for
    `seatwise worker` (tests/worker/test_front_ends.py)."""
    return f"sqlite:///{tmp_path / 'seatwise.db'}"


def _synced(seatwise: Seatwise, sim: Sim) -> None:
    assert seatwise.add_app_only(sim).code == 0
    synced = seatwise("sync")
    assert synced.code == 0, synced.err


def _wait_for_status(tab: Any, status: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while tab.inner_text("#plan-status") != status:
        assert time.monotonic() < deadline, tab.inner_text("main")
        time.sleep(0.5)
        tab.reload()


def test_plan_approve_apply_and_audit_in_the_browser(
    seatwise: Seatwise, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim", users=200) as sim:
        _synced(seatwise, sim)
        web: Web = request.getfixturevalue("web")
        tab: Any = request.getfixturevalue("page")
        cli = {
            (r["rule"], r["upn"]) for r in seatwise("recommendations", "--format", "json").json()
        }
        sign_in(tab)
        tab.goto("/recommendations?rule=blocked")
        screenshot(tab, "recommendations")
        boxes = tab.locator("input[name=pick]")
        assert boxes.count() == sum(1 for rule, _ in cli if rule == "blocked") > 1
        picked = [boxes.nth(i).get_attribute("value") for i in range(2)]
        boxes.nth(0).check()
        boxes.nth(1).check()
        tab.click("text=Create a reclamation plan from the ticked users")
        tab.wait_for_url("**/reclamation/plans/*")
        assert tab.inner_text("#plan-status") == "draft"
        upns = {value.split("|", 1)[1] for value in picked if value}
        rows = tab.locator("#plan-items tbody tr")
        assert {rows.nth(i).locator(".upn").inner_text() for i in range(rows.count())} == upns
        screenshot(tab, "reclamation-plan")
        tab.click("text=Approve the plan")
        assert tab.inner_text("#plan-status") == "approved"
        assert sim.tenant.assign_calls == 0
        tab.check("input[name=confirm]")
        tab.click("text=Apply the plan")
        _wait_for_status(tab, "applied")
        assert "finished: 2 done" in tab.inner_text("#job")
        assert sim.tenant.assign_calls == 2
        by_upn = {u.upn: u for u in sim.tenant.users}
        for upn in upns:
            assert not [s for s in by_upn[upn].licenses if not s.assigned_by_group]
        tab.goto("/reclamation/audit")
        audit = tab.inner_text("#audit")
        assert audit.count("licence.remove") == 2 and "plan.approve" in audit
        assert "web:admin" in audit
        screenshot(tab, "reclamation-audit")
        tab.goto("/reclamation")
        screenshot(tab, "reclamation")
        assert "applied" in tab.inner_text("main")
        del web


def test_viewer_sees_no_actions_and_cannot_apply(
    seatwise: Seatwise, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim", users=120) as sim:
        _synced(seatwise, sim)
        holder = next(
            u for u in sim.tenant.users if any(not s.assigned_by_group for s in u.licenses)
        )
        made = seatwise("reclaim", "plan", "--user", holder.upn, "--include-protected")
        plan = int(made.out)
        assert seatwise("reclaim", "approve", str(plan)).code == 0
        web: Web = request.getfixturevalue("web")
        with web.client() as client:
            web.login(client, "viewer")
            shown = client.get(f"/reclamation/plans/{plan}")
            assert shown.status_code == 200 and holder.upn in shown.text.replace("<wbr>", "")
            assert "Apply the plan" not in shown.text
            token = shown.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            refused = client.post(
                f"/reclamation/plans/{plan}/apply", data={"csrf_token": token, "confirm": "true"}
            )
            assert refused.status_code == 403
            refused = client.post(
                "/recommendations/plan", data={"csrf_token": token, "pick": f"blocked|{holder.upn}"}
            )
            assert refused.status_code == 403
        with web.client() as client:
            web.login(client, "admin")
            no_csrf = client.post(f"/reclamation/plans/{plan}/apply", data={"confirm": "true"})
            assert no_csrf.status_code == 403
        assert sim.tenant.assign_calls == 0
