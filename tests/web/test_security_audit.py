"""Every admin change is in the audit log with before and after (#16): tenants registered,
their schedule set, deactivated and reactivated from the web, accounts and tokens; visible in
`seatwise audit`, the API's audit set and the UI's audit page, and never with a secret."""

from __future__ import annotations

import json

import httpx
import pytest

from seatwise.workspace.tenants import register
from tests.sync.conftest import Seatwise

from .conftest import Web

pytestmark = pytest.mark.security

SECRET = "client secret that must never be logged"


def _csrf(client: httpx.Client) -> str:
    page = client.get("/settings")
    assert page.status_code == 200
    return page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_admin_changes_are_audited_with_before_and_after(seatwise: Seatwise, web: Web) -> None:
    register(
        web.app.state.web.workspace,
        "contoso",
        "11111111-1111-1111-1111-111111111111",
        "22222222-2222-2222-2222-222222222222",
        SECRET,
        auth_mode="app",
        refresh=None,
        actor="tests",
    )
    with web.client() as admin:
        web.login(admin, "admin")
        csrf = _csrf(admin)
        saved = admin.post(
            "/settings/tenants/contoso/schedule",
            data={"csrf_token": csrf, "hour": "5", "scheduled": ["license-info", "roster"]},
        )
        assert saved.status_code == 303
        for action in ("deactivate", "reactivate"):
            done = admin.post(f"/settings/tenants/contoso/{action}", data={"csrf_token": csrf})
            assert done.status_code == 303
        made = admin.post(
            "/settings/tokens", data={"csrf_token": csrf, "name": "powerbi", "role": "viewer"}
        )
        assert made.status_code == 200
        audit_page = admin.get("/reclamation/audit")
    assert seatwise("tenant", "schedule", "contoso", "--hour", "6").code == 0

    result = seatwise("audit", "--tenant", "contoso", "--format", "json")
    assert result.code == 0, result.err
    log = list(reversed(json.loads(result.out)))
    by_action = {e["action"]: e for e in log}
    for action in (
        "account.create",
        "token.create",
        "tenant.register",
        "tenant.schedule",
        "tenant.deactivate",
        "tenant.reactivate",
    ):
        assert action in by_action, action
    assert by_action["tenant.register"]["actor"] == "tests"
    assert by_action["tenant.register"]["before"] == []
    assert by_action["tenant.register"]["after"][0]["tenant"] == "contoso"
    web_schedule, cli_schedule = [e for e in log if e["action"] == "tenant.schedule"]
    assert web_schedule["actor"] == "web:admin"
    assert web_schedule["before"] == [{"sync_hour": 2, "disabled_tasks": ""}]
    assert web_schedule["after"][0]["sync_hour"] == 5
    assert web_schedule["after"][0]["disabled_tasks"] == "access differentiation"
    assert cli_schedule["actor"].startswith("cli:")
    assert cli_schedule["before"][0]["sync_hour"] == 5
    assert cli_schedule["after"][0]["sync_hour"] == 6
    deactivated = by_action["tenant.deactivate"]
    assert deactivated["before"][0]["active"] is True
    assert deactivated["after"][0]["active"] is False
    assert by_action["token.create"]["actor"] == "web:admin"
    assert by_action["token.create"]["after"][0]["name"] == "powerbi"

    with web.client(headers={"Authorization": f"Bearer {web.tokens['admin']}"}) as api:
        listed = api.get("/api/v1/audit", params={"tenant": "contoso"})
        assert listed.status_code == 200
        assert {e["action"] for e in listed.json()["value"]} >= set(by_action)
    assert audit_page.status_code == 200
    for action in ("tenant.deactivate", "account.create", "token.create"):
        assert action in audit_page.text

    everything = result.out + listed.text + audit_page.text
    assert SECRET not in everything
    assert web.tokens["admin"] not in everything and "$argon2" not in everything
