"""The simulator refuses what Graph refuses and supports what Graph supports, so that nothing in
seatwise comes to rely on a simulator-only behaviour: `$filter` with `or` and `in`, `$skip`,
`$search` and `ConsistencyLevel`, `/users/$count`, `/me`, RS256 access tokens verifiable with the
published keys, and `assignLicense` removing a licence the user does not hold.
"""

from __future__ import annotations

import jwt
import pytest

from seatwise.simulator import Tenant

from .conftest import Graph

EVENTUAL = {"ConsistencyLevel": "eventual"}


def test_filter_with_or_returns_either(graph: Graph) -> None:
    first, second = graph.tenant.users[3], graph.tenant.users[7]
    found = graph.pages(
        "/v1.0/users",
        params={"$filter": f"id eq '{first.id}' or id eq '{second.id}'", "$select": "id"},
    )
    assert {u["id"] for u in found} == {first.id, second.id}
    disabled = [u for u in graph.tenant.users if not u.account_enabled]
    both = graph.pages(
        "/v1.0/users",
        params={
            "$filter": f"(id eq '{first.id}' or accountEnabled eq false) and userType eq 'Member'",
            "$select": "id",
        },
    )
    expected = {u.id for u in [first, *disabled] if u.user_type == "Member"}
    assert {u["id"] for u in both} == expected


def test_filter_with_in(graph: Graph) -> None:
    wanted = [u.upn for u in graph.tenant.users[2:5]]
    listed = ", ".join(f"'{upn}'" for upn in wanted)
    found = graph.pages(
        "/v1.0/users",
        params={"$filter": f"userPrincipalName in ({listed})", "$select": "userPrincipalName"},
    )
    assert {u["userPrincipalName"] for u in found} == set(wanted)


def test_sign_in_activity_filters_combine_with_or_but_not_with_other_properties(
    graph: Graph,
) -> None:
    both = (
        "signInActivity/lastSignInDateTime ge 2026-11-01T00:00:00Z or "
        "signInActivity/lastNonInteractiveSignInDateTime ge 2026-11-01T00:00:00Z"
    )
    assert graph.get("/v1.0/users", params={"$filter": both}).status_code == 200
    mixed = "signInActivity/lastSignInDateTime ge 2026-11-01T00:00:00Z or accountEnabled eq true"
    refused = graph.get("/v1.0/users", params={"$filter": mixed})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Request_UnsupportedQuery"


@pytest.mark.parametrize("path", ["/v1.0/users", "/beta/users", "/v1.0/users/delta"])
def test_skip_is_refused_as_graph_refuses_it(graph: Graph, path: str) -> None:
    response = graph.get(path, params={"$skip": "5"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "Request_BadRequest"
    assert error["message"] == "'$skip' is not supported by the service."


def test_search_needs_consistency_level(graph: Graph) -> None:
    user = next(u for u in graph.tenant.users if u.surname and u.kind == "person")
    params = {"$search": f'"displayName:{user.surname}"', "$select": "id,displayName"}
    refused = graph.get("/v1.0/users", params=params)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert "ConsistencyLevel: eventual" in refused.json()["error"]["message"]
    found = graph.pages("/v1.0/users", params=params, headers=EVENTUAL)
    assert user.id in {u["id"] for u in found}
    assert 0 < len(found) < len(graph.tenant.users)
    assert all(user.surname.lower() in str(u["displayName"]).lower() for u in found)


def test_count_segment_is_an_advanced_query(graph: Graph) -> None:
    assert graph.get("/v1.0/users/$count").status_code == 400
    counted = graph.get("/v1.0/users/$count", headers=EVENTUAL)
    assert counted.status_code == 200
    assert counted.headers["content-type"].startswith("text/plain")
    assert int(counted.text) == len(graph.tenant.users)
    guests = graph.get(
        "/v1.0/users/$count", params={"$filter": "userType eq 'Guest'"}, headers=EVENTUAL
    )
    assert int(guests.text) == sum(u.user_type == "Guest" for u in graph.tenant.users)


def test_me_is_the_signed_in_user_of_a_delegated_token(graph: Graph) -> None:
    tenant = graph.tenant
    refused = graph.get("/v1.0/me")  # app-only token
    assert refused.status_code == 400
    assert "delegated authentication flow" in refused.json()["error"]["message"]
    token, _ = graph.app.state.sim.tokens.issue_access(
        tenant_id=tenant.tenant_id,
        client_id=tenant.app.client_id,
        scopes={"User.Read", "Directory.Read.All"},
        user_id=tenant.admin.user_id,
        upn=tenant.admin.upn,
    )
    me = graph.get("/v1.0/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["id"] == tenant.admin.user_id
    assert me.json()["userPrincipalName"] == tenant.admin.upn


def test_access_tokens_are_rs256_and_verify_with_the_published_keys(graph: Graph) -> None:
    tenant = graph.tenant
    token = graph.client.headers["Authorization"].removeprefix("Bearer ")
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    doc = graph.get(f"/{tenant.tenant_id}/v2.0/.well-known/openid-configuration").json()
    keys = graph.get(doc["jwks_uri"]).json()["keys"]
    key = next(k for k in keys if k["kid"] == header["kid"])
    public = jwt.PyJWK(key).key
    claims = jwt.decode(token, public, algorithms=["RS256"], audience="https://graph.microsoft.com")
    assert claims["tid"] == tenant.tenant_id
    assert claims["iss"] == f"https://sts.windows.net/{tenant.tenant_id}/"


def test_each_tenant_signs_with_its_own_key() -> None:
    first, second = Tenant.create_many(2, users=20, seed=3)
    one, two = Graph(first), Graph(second)
    with one.client, two.client:
        kid_one = jwt.get_unverified_header(one.client.headers["Authorization"][7:])["kid"]
        kid_two = jwt.get_unverified_header(two.client.headers["Authorization"][7:])["kid"]
    assert kid_one != kid_two


def test_removing_a_licence_the_user_does_not_hold_is_refused(graph: Graph) -> None:
    tenant = graph.tenant
    user = next(u for u in tenant.users if u.licenses and u.usage_location)
    other = next(sku for sku in tenant.holdings if sku not in user.sku_ids())
    response = graph.post(
        f"/v1.0/users/{user.id}/assignLicense",
        json={"addLicenses": [], "removeLicenses": [other]},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "Request_BadRequest"
    assert error["message"] == "User does not have a corresponding license."
    assert other not in user.sku_ids()
