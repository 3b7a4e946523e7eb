"""Sign-in logs, MFA registration, report settings and permission errors (graph-facts §3.3–§5)."""

from __future__ import annotations

from datetime import datetime, timedelta

from seatwise.simulator.tenant import SIGNIN_APPS

from .conftest import NOW, Graph, make_tenant

SIGNIN_KEYS = {
    "id",
    "createdDateTime",
    "userDisplayName",
    "userPrincipalName",
    "userId",
    "appId",
    "appDisplayName",
    "ipAddress",
    "clientAppUsed",
    "correlationId",
    "conditionalAccessStatus",
    "isInteractive",
    "riskDetail",
    "riskLevelAggregated",
    "riskLevelDuringSignIn",
    "riskState",
    "riskEventTypes",
    "riskEventTypes_v2",
    "resourceDisplayName",
    "resourceId",
    "status",
    "deviceDetail",
    "location",
    "appliedConditionalAccessPolicies",
}


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_sign_ins_newest_first_within_30_days(graph: Graph) -> None:
    events = graph.pages("/v1.0/auditLogs/signIns")
    assert events
    assert all(set(e) == SIGNIN_KEYS for e in events)
    times = [_when(e["createdDateTime"]) for e in events]
    assert times == sorted(times, reverse=True)
    assert min(times) >= NOW - timedelta(days=30)
    assert max(times) <= NOW


def test_sign_ins_filter_by_app_and_window(graph: Graph) -> None:
    name, app_id = SIGNIN_APPS["powerbi"]
    since = (NOW - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = graph.pages(
        f"/v1.0/auditLogs/signIns?$filter=appId eq '{app_id}' and createdDateTime ge {since}"
    )
    assert events
    assert {e["appDisplayName"] for e in events} == {name}
    assert all(_when(e["createdDateTime"]) >= _when(since) for e in events)
    by_name = graph.pages(f"/v1.0/auditLogs/signIns?$filter=appDisplayName eq '{name}'")
    assert len(by_name) >= len(events)
    assert graph.get("/v1.0/auditLogs/signIns", params={"$top": "1001"}).status_code == 400


def test_no_visio_sign_ins(graph: Graph) -> None:
    names = {e["appDisplayName"] for e in graph.pages("/v1.0/auditLogs/signIns")}
    assert not any("visio" in n.lower() for n in names)


def test_registration_details_skip_disabled_users(graph: Graph) -> None:
    items = graph.pages("/beta/reports/authenticationMethods/userRegistrationDetails")
    enabled = {u.id for u in graph.tenant.users if u.account_enabled}
    assert {i["id"] for i in items} == enabled
    assert all("defaultMfaMethod" in i for i in items)
    v1 = graph.pages("/v1.0/reports/authenticationMethods/userRegistrationDetails")
    assert all("defaultMfaMethod" not in i for i in v1)
    registered = graph.pages(
        "/v1.0/reports/authenticationMethods/userRegistrationDetails"
        "?$filter=isMfaRegistered eq true"
    )
    assert registered and all(i["isMfaRegistered"] for i in registered)


def test_report_settings_get_and_patch(graph: Graph) -> None:
    body = graph.get("/v1.0/admin/reportSettings").json()
    assert body["displayConcealedNames"] is False
    graph.tenant.app.application_permissions.add("ReportSettings.ReadWrite.All")
    g2 = Graph(graph.tenant)  # new token carrying the new permission
    assert (
        g2.client.patch(
            "/v1.0/admin/reportSettings", json={"displayConcealedNames": True}
        ).status_code
        == 204
    )
    assert graph.tenant.options.concealed_names is True


def test_missing_token_and_missing_permission(graph: Graph) -> None:
    anonymous = graph.client.get("/v1.0/users", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "InvalidAuthenticationToken"
    tenant = make_tenant()
    tenant.app.application_permissions -= {"AuditLog.Read.All", "UserAuthenticationMethod.Read.All"}
    limited = Graph(tenant)
    denied = limited.get("/v1.0/auditLogs/signIns")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authentication_MSGraphPermissionMissing"
    assert limited.get("/v1.0/users", params={"$select": "id,signInActivity"}).status_code == 403
    assert limited.get("/v1.0/users", params={"$select": "id"}).status_code == 200


def test_tenant_without_p1() -> None:
    g = Graph(make_tenant(premium=False))
    for url in (
        "/v1.0/users?$select=id,signInActivity",
        "/v1.0/auditLogs/signIns",
        "/beta/reports/authenticationMethods/userRegistrationDetails",
    ):
        response = g.get(url)
        assert response.status_code == 403
        assert (
            response.json()["error"]["code"]
            == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
        )
    assert g.get("/v1.0/users?$select=id").status_code == 200


def test_expired_token_is_401_then_a_new_token_works(graph: Graph) -> None:
    assert graph.client.post("/_control/tokens/expire").status_code == 204
    expired = graph.get("/v1.0/users")
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]
    fresh = Graph(graph.tenant)
    fresh.app = graph.app
    fresh.client = graph.client
    from .conftest import app_token

    token = app_token(graph.client, graph.tenant)
    assert graph.get("/v1.0/users", headers={"Authorization": f"Bearer {token}"}).status_code == 200
