"""The admin's day in real Chromium, end to end against the simulator: sign in, authorize a
tenant through the simulator's real sign-in and consent page, run a sync from Tasks, filter
Users, price a licence, plan and apply a small reclamation, read the audit log; a viewer cannot
apply. Screenshots of every page are kept as test artefacts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.sync.conftest import Seatwise, serve
from tests.web.conftest import Web, screenshot, sign_in, start_authorize


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite: there Run now syncs in the web process. On PostgreSQL Run now queues jobs for
    `seatwise worker`, proven by tests/worker/test_front_ends.py."""
    return f"sqlite:///{tmp_path / 'seatwise.db'}"


def test_an_admins_day(
    seatwise: Seatwise, tmp_path: Path, browser: Any, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim", users=150) as sim:
        seatwise.point_at(sim)
        web: Web = request.getfixturevalue("web")
        context = browser.new_context(
            base_url=web.base_url, viewport={"width": 1400, "height": 900}, ignore_https_errors=True
        )
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        dialogs: list[str] = []
        tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        try:
            sign_in(tab, "admin")

            # Authorize the tenant through the identity platform's own pages.
            start_authorize(tab, sim, "contoso")
            tab.wait_for_url(re.compile(r"https://127\.0\.0\.1:\d+/.+/oauth2/v2\.0/authorize\?"))
            screenshot(tab, "journey-consent")
            tab.fill("input[name=loginfmt]", sim.tenant.admin.upn)
            tab.fill("input[name=passwd]", sim.tenant.admin.password)
            tab.click("button[name=decision][value=accept]")
            tab.wait_for_url(re.compile(r"/settings$"))
            assert "Tenant contoso is authorized" in tab.locator(".flash.ok").inner_text()

            # Sync from the Tasks page.
            tab.goto("/tasks")
            tab.select_option("#run-now select[name=task]", "all")
            tab.click("#run-now button[type=submit]")
            expect(tab.locator("#latest-runs .badge.good")).to_have_count(4, timeout=120_000)
            screenshot(tab, "journey-tasks")

            # Overview and Users with a filter; markup in names stays text.
            tab.goto("/")
            screenshot(tab, "journey-overview")
            tab.goto("/users")
            hostile = next(u for u in sim.tenant.users if "<script>" in u.display_name)
            tab.fill("#user-filters input[name=upn]", hostile.upn.split("@")[0])
            tab.click("#user-filters button[type=submit]")
            tab.wait_for_url("**/users?*upn=*")
            assert hostile.display_name in tab.inner_text("main")
            screenshot(tab, "journey-users")
            assert dialogs == []

            # Price a licence.
            tab.goto("/licenses")
            row = tab.locator('tr[data-sku="ENTERPRISEPACK"]')
            row.locator("text=Edit").click()
            tab.fill("input[name=cost]", "20")
            tab.fill("input[name=currency]", "EUR")
            tab.select_option("select[name=payment_frequency]", "monthly")
            tab.fill("input[name=effective_date]", "2026-01-01")
            tab.fill("input[name=expiration_date]", "2027-12-31")
            tab.click("button:has-text('Save')")
            tab.wait_for_url("**/licenses?*saved=ENTERPRISEPACK*")
            screenshot(tab, "journey-licenses")
            tab.goto("/activity")
            screenshot(tab, "journey-activity")

            # Plan and apply a small reclamation from the recommendations.
            tab.goto("/recommendations?rule=blocked")
            tab.locator("input[name=pick]").first.check()
            tab.click("text=Create a reclamation plan from the ticked users")
            tab.wait_for_url("**/reclamation/plans/*")
            plan_url = tab.url
            tab.click("text=Approve the plan")
            tab.check("input[name=confirm]")
            tab.click("text=Apply the plan")
            expect(tab.locator("#plan-status")).to_have_text("applied", timeout=60_000)
            assert sim.tenant.assign_calls == 1
            screenshot(tab, "journey-plan")
            tab.goto("/reclamation/audit")
            audit = tab.inner_text("#audit")
            assert "licence.remove" in audit and "web:admin" in audit
            screenshot(tab, "journey-audit")
        finally:
            context.close()

        # A viewer sees the plan but cannot act on it.
        viewer = browser.new_context(base_url=web.base_url)
        tab = viewer.new_page()
        try:
            sign_in(tab, "viewer")
            tab.goto(plan_url)
            assert tab.locator("#plan-status").inner_text() == "applied"
            assert tab.locator("text=Undo the plan").count() == 0
        finally:
            viewer.close()
