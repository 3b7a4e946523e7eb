"""GraphClient against the simulator over real HTTPS: paging, retries, token refresh, errors,
`$batch`, `assignLicense` and report settings (graph-facts §0, §1, §6, §8).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from seatwise.errors import (
    GraphAuthError,
    GraphError,
    GraphForbidden,
    GraphNoPremium,
    GraphNotFound,
    GraphRequestError,
    GraphThrottled,
)
from seatwise.graph import GraphClient, Progress, RetryPolicy, endpoints
from seatwise.simulator.tenant import MSG_GROUP_INHERITED

from .conftest import NOW, Recording, Sim, Sleeps, settings_for

SMALL = {"$select": "id,userPrincipalName", "$top": "7"}
FAST_CAP = 0.005  # conftest.FAST.cap_s


def all_ids(client: GraphClient, params: dict[str, str]) -> list[str]:
    return [u["id"] for page in client.iter_pages(endpoints.USERS, params) for u in page]


def test_paging_yields_every_user_exactly_once(sim: Sim) -> None:
    seen: list[Progress] = []
    with sim.client(on_progress=seen.append) as client:
        pages = list(client.iter_pages(endpoints.USERS, SMALL))
    ids = [u["id"] for page in pages for u in page]
    expected = [u.id for u in sim.tenant.users]
    assert len(ids) == len(set(ids)) == len(expected) == 300
    assert set(ids) == set(expected)
    assert all(0 < len(page) <= 7 for page in pages)
    assert len(pages) == math.ceil(300 / 7)
    assert all(set(u) == {"id", "userPrincipalName"} for page in pages for u in page)
    assert seen[-1] == Progress("page", endpoints.USERS, pages=len(pages), items=300)
    assert client.stats.requests >= len(pages) and client.stats.retries == 0


def test_next_link_is_followed_verbatim_with_headers_resent(sim: Sim) -> None:
    transport = Recording(sim.settings)
    params = {**SMALL, "$count": "true"}
    headers = {"ConsistencyLevel": "eventual"}
    with sim.client(transport=transport) as client:
        ids = [
            u["id"] for page in client.iter_pages(endpoints.USERS, params, headers) for u in page
        ]
    assert len(ids) == 300
    graph = [
        (request, body)
        for request, body in zip(transport.requests, transport.json_bodies(), strict=True)
        if request.url.path.startswith("/v1.0/")
    ]
    links = [body.get("@odata.nextLink") for _, body in graph]
    assert links[-1] is None and all(links[:-1])
    for (request, _), link in zip(graph[1:], links, strict=False):
        assert str(request.url) == link  # the whole link, as Graph gave it
    assert all(r.headers["ConsistencyLevel"] == "eventual" for r, _ in graph)
    assert all(r.headers["Authorization"].startswith("Bearer ") for r, _ in graph)
    assert graph[0][1]["@odata.count"] == 300


def test_faults_are_retried_and_the_data_is_unchanged(sim: Sim) -> None:
    params = {"$select": ",".join(endpoints.USER_FIELDS), "$top": "100"}
    with sim.client() as client:
        baseline = [u for page in client.iter_pages(endpoints.USERS, params) for u in page]
    sim.script(
        "/v1.0/users",
        {"kind": "throttle", "retry_after": "2.128"},
        {"kind": "unavailable"},
        {"kind": "timeout"},
        {"kind": "reset"},
    )
    sleeps = Sleeps()
    with sim.client(sleep=sleeps) as client:
        again = [u for page in client.iter_pages(endpoints.USERS, params) for u in page]
        assert client.stats.retries == 4
    assert again == baseline
    assert sleeps.delays[0] == 2.128  # Retry-After honoured, fraction included
    assert all(d <= FAST_CAP for d in sleeps.delays[1:])


def test_permanent_unavailability_gives_up_with_graph_throttled(sim: Sim) -> None:
    sim.script(endpoints.SUBSCRIBED_SKUS, *[{"kind": "unavailable"}] * 3)
    policy = RetryPolicy(max_attempts=3, base_s=0.001, cap_s=0.002)
    with sim.client(policy=policy) as client:
        with pytest.raises(GraphThrottled) as caught:
            client.get_json(endpoints.SUBSCRIBED_SKUS)
        assert client.stats.retries == 2
    assert "503" in str(caught.value) and endpoints.SUBSCRIBED_SKUS in str(caught.value)
    assert "3 attempts" in str(caught.value)


def test_a_retry_after_beyond_the_total_cap_gives_up_at_once(sim: Sim) -> None:
    sim.script(endpoints.SUBSCRIBED_SKUS, {"kind": "throttle", "retry_after": "120"})
    sleeps = Sleeps()
    policy = RetryPolicy(max_total_s=60)
    with sim.client(policy=policy, sleep=sleeps) as client:
        with pytest.raises(GraphThrottled, match="429"):
            client.get_json(endpoints.SUBSCRIBED_SKUS)
    assert sleeps.delays == []


def test_expired_token_is_refreshed_once(sim: Sim) -> None:
    with sim.client() as client:
        assert client.get_json(endpoints.SUBSCRIBED_SKUS)["value"]
        sim.control("tokens/expire", {})
        body = client.get_json(endpoints.SUBSCRIBED_SKUS)
        assert body["value"]
        assert client.stats.token_refreshes == 1
        assert client.stats.retries == 0


class StuckProvider:
    """A provider whose tokens Graph never accepts."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    def token(self, *, force_refresh: bool = False) -> str:
        self.calls.append(force_refresh)
        return "not.a.token"


def test_a_token_refused_after_refresh_is_graph_auth_error(sim: Sim) -> None:
    provider = StuckProvider()
    with sim.client(provider=provider) as client:
        with pytest.raises(GraphAuthError, match="InvalidAuthenticationToken"):
            client.get_json(endpoints.SUBSCRIBED_SKUS)
    assert provider.calls == [False, True]


def test_error_envelopes_become_the_right_errors(sim: Sim) -> None:
    with sim.client() as client:
        with pytest.raises(GraphNotFound):
            client.get_json(f"{endpoints.USERS}/00000000-0000-0000-0000-000000000000")
        with pytest.raises(GraphRequestError) as bad:
            client.get_json(endpoints.USERS, {"$top": "1000"})
        assert bad.value.status == 400 and bad.value.request_id
        assert bad.value.graph_message in str(bad.value)
        sim.control("settings", {"premium": False})
        try:
            with pytest.raises(GraphNoPremium) as premium:
                client.get_json(endpoints.SIGN_INS)
        finally:
            sim.control("settings", {"premium": True})
    assert premium.value.code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    assert premium.value.path == endpoints.SIGN_INS and premium.value.exit_code == 3


def test_report_settings(sim: Sim) -> None:
    with sim.client() as client:
        assert client.report_settings() is False
        sim.control("settings", {"concealed_names": True})
        try:
            assert client.report_settings() is True
        finally:
            sim.control("settings", {"concealed_names": False})


def test_report_settings_accepts_the_wrapped_shape_and_403() -> None:
    answers = iter(
        [
            httpx.Response(200, json={"value": {"displayConcealedNames": True}}),
            httpx.Response(403, json={"error": {"code": "Forbidden", "message": "No."}}),
        ]
    )
    transport = httpx.MockTransport(lambda request: next(answers))
    settings = settings_for("https://graph.example", None, Path("/nonexistent"))
    with GraphClient(settings, StuckProvider(), transport=transport) as client:
        assert client.report_settings() is True
        assert client.report_settings() is None


def test_next_link_to_another_host_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"value": [{"id": "1"}], "@odata.nextLink": "https://evil.example/v1.0/x"}
        )

    settings = settings_for("https://graph.example", None, Path("/nonexistent"))
    client = GraphClient(settings, StuckProvider(), transport=httpx.MockTransport(handler))
    pages = client.iter_pages("/v1.0/users")
    assert next(pages) == [{"id": "1"}]
    with pytest.raises(GraphError, match="another host"):
        next(pages)


def test_untrusted_certificate_is_a_clear_error_without_retries(sim: Sim, tmp_path: Path) -> None:
    settings = settings_for(sim.base_url, None, tmp_path)
    client = GraphClient(settings, StuckProvider())
    with pytest.raises(GraphError, match="SEATWISE_CA_BUNDLE"):
        client.get_json(endpoints.SUBSCRIBED_SKUS)
    assert client.stats.retries == 0


def test_environment_ca_variables_do_not_change_verification(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bogus = str(tmp_path / "no-such-bundle.pem")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.setenv(name, bogus)
    with sim.client(provider=sim.provider()) as client:  # a new MSAL session and httpx client
        assert client.get_json(endpoints.SUBSCRIBED_SKUS)["value"]


# -- $batch ------------------------------------------------------------------------------------


def test_batch_retries_only_throttled_items_in_chunks_of_twenty(sim: Sim) -> None:
    users = sim.tenant.users[:45]
    requests = [
        {"id": f"u{i}", "method": "GET", "url": f"/users/{u.id}?$select=id,displayName"}
        for i, u in enumerate(users)
    ]
    sim.script("/v1.0/users/", *[{"kind": "throttle", "retry_after": "0.25"}] * 4)
    transport = Recording(sim.settings)
    sleeps = Sleeps()
    with sim.client(transport=transport, sleep=sleeps) as client:
        results = client.batch(requests)
        assert client.stats.retries == 4
    assert set(results) == {r["id"] for r in requests}
    assert all(results[f"u{i}"]["status"] == 200 for i in range(45))
    assert [results[f"u{i}"]["body"]["id"] for i in range(45)] == [u.id for u in users]
    sent = [r for r in transport.requests if r.url.path == endpoints.BATCH and r.method == "POST"]
    sizes = [len(orjson.loads(r.content)["requests"]) for r in sent]
    assert sizes == [20, 4, 20, 5]  # the 4 throttled items of the first chunk went again alone
    assert sleeps.delays == [0.25]


def test_batch_rejects_duplicate_ids(sim: Sim) -> None:
    with sim.client() as client, pytest.raises(ValueError, match="unique"):
        client.batch([{"id": "1", "method": "GET", "url": "/users"}] * 2)


# -- assignLicense -----------------------------------------------------------------------------


def _direct(sim: Sim) -> Any:
    return next(
        u
        for u in sim.tenant.users
        if u.licenses and all(s.assigned_by_group is None for s in u.licenses)
    )


def test_assign_license_removes_and_restores(sim: Sim) -> None:
    user = _direct(sim)
    state = user.licenses[0]
    before = sim.control("stats")["assign_license_calls"]
    with sim.client() as client:
        removed = client.assign_license(user.id, [], [state.sku_id])
        assert removed.request_id
        assert state.sku_id not in {a["skuId"] for a in removed.user["assignedLicenses"]}
        restored = client.assign_license(
            user.id, [{"skuId": state.sku_id, "disabledPlans": state.disabled_plans}], []
        )
        assert state.sku_id in {a["skuId"] for a in restored.user["assignedLicenses"]}
    assert sim.control("stats")["assign_license_calls"] == before + 2


def test_assign_license_refusal_carries_graph_code_and_request_id(sim: Sim) -> None:
    user = next(u for u in sim.tenant.users if any(s.assigned_by_group for s in u.licenses))
    inherited = next(s for s in user.licenses if s.assigned_by_group)
    with sim.client() as client, pytest.raises(GraphRequestError) as caught:
        client.assign_license(user.id, [], [inherited.sku_id])
    error = caught.value
    assert error.status == 400 and error.code and error.request_id
    assert error.graph_message == MSG_GROUP_INHERITED
    assert isinstance(error, GraphError) and not isinstance(error, GraphForbidden)


def test_a_write_is_not_repeated_after_a_gateway_timeout(sim: Sim) -> None:
    user = _direct(sim)
    path = endpoints.assign_license_path(user.id)
    sim.script(path, {"kind": "timeout"})
    before = sim.control("stats")["assign_license_calls"]
    with sim.client() as client, pytest.raises(GraphError, match="504"):
        client.assign_license(user.id, [], [user.licenses[0].sku_id])
    assert sim.control("stats")["assign_license_calls"] == before


def test_batch_resends_dependants_of_a_throttled_item(sim: Sim) -> None:
    first, second = sim.tenant.users[5:7]
    sim.script(f"{endpoints.USERS}/{first.id}", {"kind": "throttle", "retry_after": "0.1"})
    requests: list[dict[str, Any]] = [
        {"id": "a", "method": "GET", "url": f"/users/{first.id}?$select=id"},
        {"id": "b", "method": "GET", "url": f"/users/{second.id}?$select=id", "dependsOn": ["a"]},
    ]
    with sim.client() as client:
        results = client.batch(requests)
        assert client.stats.retries == 2
    assert results["a"]["status"] == results["b"]["status"] == 200
    assert results["b"]["body"]["id"] == second.id


# -- every endpoint the integration tasks use is accepted as built ------------------------------


def test_endpoint_queries_are_accepted(sim: Sim) -> None:
    with sim.client() as client:
        users = [
            u for page in client.iter_pages(endpoints.USERS, endpoints.users_params()) for u in page
        ]
        assert len(users) == 300 and list(users[0]) == list(endpoints.USER_FIELDS)
        pages = list(client.iter_pages(endpoints.USERS, endpoints.users_sign_in_params()))
        assert all(len(p) <= endpoints.SIGN_IN_MAX_TOP for p in pages)
        assert {"id", "signInActivity"} >= set(pages[0][0])
        skus = client.get_json(endpoints.SUBSCRIBED_SKUS, endpoints.subscribed_skus_params())
        assert skus["value"] and "prepaidUnits" in skus["value"][0]
        app_id = "871c010f-5e61-4fb1-83ac-98610a7e9110"  # Microsoft Power BI
        since = NOW - timedelta(days=30)
        sign_ins = [
            s
            for page in client.iter_pages(
                endpoints.SIGN_INS, endpoints.sign_ins_params(since, app_id)
            )
            for s in page
        ]
        assert sign_ins and all(s["appId"] == app_id for s in sign_ins)
        assert all(s["createdDateTime"] >= endpoints.graph_datetime(since) for s in sign_ins)
        details = [
            d
            for page in client.iter_pages(
                endpoints.REGISTRATION_DETAILS, endpoints.registration_details_params()
            )
            for d in page
        ]
        assert details and "isMfaRegistered" in details[0]


def test_endpoint_builders() -> None:
    assert endpoints.users_params(5000)["$top"] == "999"
    assert endpoints.users_sign_in_params(999)["$top"] == "500"
    when = datetime(2026, 5, 1, 2, 0, 0, 123, tzinfo=timezone(timedelta(hours=2)))
    assert endpoints.sign_ins_params(when, "abc")["$filter"] == (
        "createdDateTime ge 2026-05-01T00:00:00Z and appId eq 'abc'"
    )
    with pytest.raises(ValueError):
        endpoints.graph_datetime(datetime(2026, 5, 1))
    with pytest.raises(ValueError):
        endpoints.sign_ins_params(when, "x' or 1 eq 1 or appId eq 'y")
    assert endpoints.assign_license_body([{"skuId": "s1"}], ["s2"]) == {
        "addLicenses": [{"disabledPlans": [], "skuId": "s1"}],
        "removeLicenses": ["s2"],
    }
    assert endpoints.assign_license_path("a/b") == "/v1.0/users/a%2Fb/assignLicense"
