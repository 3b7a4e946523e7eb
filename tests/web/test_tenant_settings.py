"""Settings for many tenants, through the real forms (CSRF tokens included): a tenant's
schedule (the hour of the daily sync, tasks on or off), one registration per Microsoft 365
tenant with "Supersede" to move it, and the roll-up on the Overview once there are several.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from seatwise.store.schema import Tenant
from tests.sync.conftest import Seatwise, serve
from tests.web.conftest import Web


def _csrf(client: httpx.Client) -> str:
    page = client.get("/settings")
    assert page.status_code == 200, page.text
    return page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def _tenant(web: Web, name: str) -> Tenant:
    with web.app.state.web.session() as session:
        row = session.scalar(select(Tenant).where(Tenant.name == name))
        assert row is not None
        session.expunge(row)
        return row


def test_schedule_supersede_and_roll_up(
    seatwise: Seatwise, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with serve(tmp_path / "sim", users=30) as sim:
        assert seatwise.add_app_only(sim).code == 0
        web: Web = request.getfixturevalue("web")  # its settings point at the simulator
        assert seatwise("sync").code == 0
        with web.client() as viewer:
            web.login(viewer, "viewer")
            token = _csrf(viewer)
            refused = viewer.post(
                "/settings/tenants/sim/schedule", data={"hour": "5", "csrf_token": token}
            )
            assert refused.status_code == 403
        with web.client() as admin:
            web.login(admin, "admin")
            token = _csrf(admin)
            no_csrf = admin.post("/settings/tenants/sim/schedule", data={"hour": "5"})
            assert no_csrf.status_code == 403
            saved = admin.post(
                "/settings/tenants/sim/schedule",
                data={
                    "hour": "5",
                    "scheduled": ["roster", "access", "differentiation"],
                    "csrf_token": token,
                },
            )
            assert saved.status_code == 303
            assert "Schedule of sim saved" in admin.get("/settings").text
            row = _tenant(web, "sim")
            assert (row.sync_hour, row.disabled_tasks) == (5, "license-info")
            bad = admin.post(
                "/settings/tenants/sim/schedule", data={"hour": "25", "csrf_token": token}
            )
            assert bad.status_code == 303 and "0 to 23" in admin.get("/settings").text
            assert _tenant(web, "sim").sync_hour == 5

            fields = {
                "name": "moved",
                "tenant_id": sim.tenant.tenant_id,
                "client_id": sim.tenant.app.client_id,
                "client_secret": sim.tenant.app.client_secret,
                "csrf_token": token,
            }
            twice = admin.post("/settings/tenants", data=fields)
            assert twice.status_code == 303
            page = admin.get("/settings").text
            assert "is already registered as sim" in page and "“Supersede”" in page
            assert 'data-tenant="moved"' not in page

            moved = admin.post("/settings/tenants", data={**fields, "supersede": "sim"})
            assert moved.status_code == 303
            page = admin.get("/settings").text
            assert "Tenant sim is retired: moved took over." in page
            assert "superseded by moved" in page
            assert _tenant(web, "sim").superseded_by == "moved"
            again = admin.post("/settings/tenants/sim/reactivate", data={"csrf_token": token})
            assert again.status_code == 303
            assert "cannot sync again" in admin.get("/settings").text
            assert _tenant(web, "sim").active is False

            assert seatwise("sync", "--tenant", "moved").code == 0
            overview = admin.get("/", params={"tenant": "moved"}).text
            assert 'id="rollup"' in overview
            assert '<tr data-tenant="sim">' in overview and "superseded" in overview
            assert '<tr data-tenant="moved">' in overview

        api = web.client(headers={"Authorization": f"Bearer {web.tokens['viewer']}"})
        with api:
            rows = {r["name"]: r for r in api.get("/api/v1/tenants").json()["value"]}
        assert rows["sim"]["status"] == "superseded" and rows["sim"]["superseded_by"] == "moved"
        assert rows["moved"]["status"] == "active"
        assert rows["moved"]["last_sync_status"] == "succeeded"
        assert rows["moved"]["users"] == rows["sim"]["users"] > 0
        cli = {r["name"]: r for r in seatwise("tenant", "list", "--format", "json").json()}
        for name in ("sim", "moved"):
            assert {k: v for k, v in rows[name].items() if k in cli[name]} == {
                k: v for k, v in cli[name].items() if k != "last_sync_age_hours"
            } | {"last_sync_age_hours": rows[name]["last_sync_age_hours"]}
