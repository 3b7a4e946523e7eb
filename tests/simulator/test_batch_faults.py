"""JSON batching, fault injection and control endpoints (graph-facts §8)."""

from __future__ import annotations

import pytest

from seatwise.simulator.faults import FaultPlan, FaultSpecError

from .conftest import Graph


def test_batch_runs_each_request_and_correlates_by_id(graph: Graph) -> None:
    users = graph.tenant.users[:3]
    body = {
        "requests": [
            {"id": str(i), "method": "GET", "url": f"/users/{u.id}?$select=id"}
            for i, u in enumerate(users)
        ]
        + [{"id": "missing", "method": "GET", "url": "/users/00000000-0000-0000-0000-000000000000"}]
    }
    response = graph.post("/v1.0/$batch", json=body)
    assert response.status_code == 200
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert set(by_id) == {"0", "1", "2", "missing"}
    for i, user in enumerate(users):
        assert by_id[str(i)]["status"] == 200
        assert by_id[str(i)]["body"]["id"] == user.id
    assert by_id["missing"]["status"] == 404


def test_batch_limits_and_dependencies(graph: Graph) -> None:
    many = {"requests": [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]}
    assert graph.post("/v1.0/$batch", json=many).status_code == 400
    dup = {"requests": [{"id": "1", "method": "GET", "url": "/users"}] * 2}
    assert graph.post("/v1.0/$batch", json=dup).status_code == 400
    chain = {
        "requests": [
            {"id": "1", "method": "GET", "url": "/users/00000000-0000-0000-0000-000000000000"},
            {"id": "2", "method": "GET", "url": "/users", "dependsOn": ["1"]},
        ]
    }
    statuses = {
        r["id"]: r["status"] for r in graph.post("/v1.0/$batch", json=chain).json()["responses"]
    }
    assert statuses == {"1": 404, "2": 424}


def test_batch_assign_license_and_inner_throttle(graph: Graph) -> None:
    graph.post(
        "/_control/faults",
        json={"path": "/v1.0/users/", "script": [{"kind": "throttle", "retry_after": "2.128"}]},
    )
    user = next(
        u
        for u in graph.tenant.users
        if u.licenses and all(s.assigned_by_group is None for s in u.licenses)
    )
    request = {
        "method": "POST",
        "url": f"/users/{user.id}/assignLicense",
        "headers": {"Content-Type": "application/json"},
        "body": {"addLicenses": [], "removeLicenses": [user.licenses[0].sku_id]},
    }
    first = graph.post("/v1.0/$batch", json={"requests": [{"id": "a", **request}]}).json()
    item = first["responses"][0]
    assert item["status"] == 429
    assert item["headers"]["retry-after"] == "2.128"
    second = graph.post("/v1.0/$batch", json={"requests": [{"id": "a", **request}]}).json()
    assert second["responses"][0]["status"] == 200
    assert graph.tenant.assign_calls == 1


def test_scripted_faults_status_and_retry_after(graph: Graph) -> None:
    graph.post(
        "/_control/faults",
        json={
            "path": "/v1.0/users",
            "script": [
                {"kind": "throttle", "retry_after": "0.5"},
                {"kind": "unavailable"},
                {"kind": "timeout"},
            ],
        },
    )
    first = graph.get("/v1.0/users")
    assert first.status_code == 429 and first.headers["retry-after"] == "0.5"
    assert first.json()["error"]["code"] == "TooManyRequests"
    assert graph.get("/v1.0/users").status_code == 503
    assert graph.get("/v1.0/users").status_code == 504
    assert graph.get("/v1.0/users").status_code == 200
    stats = graph.client.get("/_control/stats").json()
    assert stats["faults_injected"] == {"throttle": 1, "unavailable": 1, "timeout": 1}


def test_reset_drops_the_connection_mid_body(graph: Graph) -> None:
    graph.post("/_control/faults", json={"path": "/v1.0/users", "script": [{"kind": "reset"}]})
    with pytest.raises(ConnectionResetError):
        graph.get("/v1.0/users")


def test_fault_spec_parsing() -> None:
    plan = FaultPlan.parse("throttle=0.1,unavailable=0.02,reset=0.01,latency=5ms,retry_after=1.5")
    assert (plan.throttle, plan.unavailable, plan.reset, plan.latency_s, plan.retry_after) == (
        0.1,
        0.02,
        0.01,
        0.005,
        1.5,
    )
    for bad in ("throttle=2", "throttle", "explode=0.1", "latency=fast"):
        with pytest.raises(FaultSpecError):
            FaultPlan.parse(bad)


def test_random_faults_hit_at_about_the_declared_rate() -> None:
    plan = FaultPlan.parse("throttle=0.2,unavailable=0.05", seed=3)
    drawn = [plan.draw("/v1.0/users") for _ in range(4000)]
    throttled = sum(1 for f in drawn if f and f.kind == "throttle")
    assert 650 < throttled < 950
    assert all(f.retry_after for f in drawn if f and f.kind == "throttle")


def test_control_admin_roles_and_settings(graph: Graph) -> None:
    response = graph.client.post("/_control/admin", json={"remove_roles": ["Reports Reader"]})
    assert "Reports Reader" not in response.json()["roles"]
    settings = graph.client.post("/_control/settings", json={"concealed_names": True}).json()
    assert settings["concealed_names"] is True
    assert graph.client.post("/_control/settings", json={"nope": 1}).status_code == 400


def test_clock_advances_refresh_date(graph: Graph) -> None:
    before = graph.tenant.refresh_date
    graph.client.post("/_control/clock", json={"advance_days": 2})
    assert graph.tenant.refresh_date.toordinal() - before.toordinal() == 2
