"""Directory endpoints against Graph's documented shapes (graph-facts §1, §2, §6)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from seatwise.simulator import catalog
from seatwise.simulator.tenant import MSG_GROUP_INHERITED, MSG_USAGE_LOCATION

from .conftest import Graph, make_tenant

DEFAULT_USER_PROPERTIES = {
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
}
SELECT = (
    "id,userPrincipalName,mail,givenName,surname,displayName,accountEnabled,createdDateTime,"
    "userType,country,usageLocation,onPremisesSyncEnabled,assignedLicenses,"
    "licenseAssignmentStates,jobTitle,department"
)


def test_users_default_properties_are_exactly_the_documented_eleven(graph: Graph) -> None:
    body = graph.get("/v1.0/users").json()
    assert body["@odata.context"].endswith("/v1.0/$metadata#users")
    assert all(set(item) == DEFAULT_USER_PROPERTIES for item in body["value"])
    assert len(body["value"]) == 60  # default page 100 > tenant size: no nextLink
    assert "@odata.nextLink" not in body


def test_select_returns_exactly_the_selected_properties(graph: Graph) -> None:
    body = graph.get("/v1.0/users", params={"$select": SELECT}).json()
    assert all(list(item) == SELECT.split(",") for item in body["value"])
    user = body["value"][0]
    assert isinstance(user["accountEnabled"], bool)
    assert user["createdDateTime"].endswith("Z")
    for state in user["licenseAssignmentStates"]:
        assert set(state) == {
            "assignedByGroup",
            "disabledPlans",
            "error",
            "lastUpdatedDateTime",
            "skuId",
            "state",
        }
    for lic in user["assignedLicenses"]:
        assert set(lic) == {"disabledPlans", "skuId"}


def test_select_is_case_insensitive_and_unknown_property_is_400(graph: Graph) -> None:
    ok = graph.get("/v1.0/users", params={"$select": "ID,USERPRINCIPALNAME"}).json()
    assert set(ok["value"][0]) == {"id", "userPrincipalName"}
    bad = graph.get("/v1.0/users", params={"$select": "nope"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "Request_BadRequest"


def test_top_over_999_is_refused_with_graphs_message(graph: Graph) -> None:
    response = graph.get("/v1.0/users", params={"$top": "1000"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (
        error["message"]
        == "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."
    )
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    assert response.headers["request-id"] == error["innerError"]["request-id"]


def test_paging_follows_next_link_with_all_options_to_every_user(graph: Graph) -> None:
    first = graph.get("/v1.0/users", params={"$top": "7", "$select": "id,userPrincipalName"}).json()
    link = first["@odata.nextLink"]
    assert "$skiptoken=" in link and "$top=7" in link and "$select=id" in link
    items = graph.pages("/v1.0/users?$top=7&$select=id,userPrincipalName")
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) == len(graph.tenant.users)


def test_sign_in_activity_pages_hold_at_most_500() -> None:
    g = Graph(make_tenant(users=700))
    body = g.get("/v1.0/users", params={"$top": "999", "$select": "id,signInActivity"}).json()
    assert len(body["value"]) == 500
    assert "@odata.nextLink" in body
    assert len(g.pages("/v1.0/users?$top=999&$select=id,signInActivity")) == 700


def test_sign_in_activity_shape(graph: Graph) -> None:
    items = graph.pages("/beta/users?$select=id,signInActivity")
    values = [i["signInActivity"] for i in items if i["signInActivity"]]
    assert values
    for value in values:
        assert set(value) == {
            "lastSignInDateTime",
            "lastSignInRequestId",
            "lastNonInteractiveSignInDateTime",
            "lastNonInteractiveSignInRequestId",
            "lastSuccessfulSignInDateTime",
            "lastSuccessfulSignInRequestId",
        }


def test_filters(graph: Graph) -> None:
    tenant = graph.tenant
    e3 = catalog.sku("SPE_E3").id
    holders = graph.pages(f"/v1.0/users?$filter=assignedLicenses/any(x:x/skuId eq {e3})&$select=id")
    assert {u["id"] for u in holders} == {u.id for u in tenant.users if e3 in u.sku_ids()}
    disabled = graph.pages("/v1.0/users?$filter=accountEnabled eq false&$select=id")
    assert {u["id"] for u in disabled} == {u.id for u in tenant.users if not u.account_enabled}
    guests = graph.pages("/v1.0/users?$filter=userType eq 'Guest'&$select=id")
    assert {u["id"] for u in guests} == {u.id for u in tenant.users if u.user_type == "Guest"}
    combined = graph.get(
        "/v1.0/users",
        params={
            "$filter": "signInActivity/lastSignInDateTime le 2026-01-01T00:00:00Z"
            " and accountEnabled eq true"
        },
    )
    assert combined.status_code == 400
    unsupported = graph.get("/v1.0/users", params={"$filter": "favouriteColour eq 'red'"})
    assert unsupported.status_code == 400
    assert unsupported.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_count_needs_consistency_level(graph: Graph) -> None:
    assert graph.get("/v1.0/users", params={"$count": "true"}).status_code == 400
    body = graph.get(
        "/v1.0/users", params={"$count": "true"}, headers={"ConsistencyLevel": "eventual"}
    ).json()
    assert body["@odata.count"] == len(graph.tenant.users)


def test_single_user_by_id_and_by_guest_upn(graph: Graph) -> None:
    guest = next(u for u in graph.tenant.users if u.user_type == "Guest")
    assert "#EXT#" in guest.upn
    by_upn = graph.get(f"/v1.0/users/{quote(guest.upn, safe='@')}")
    assert by_upn.status_code == 200
    assert by_upn.json()["id"] == guest.id
    assert by_upn.json()["@odata.context"].endswith("$metadata#users/$entity")
    missing = graph.get("/v1.0/users/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"


def test_single_user_only_property_on_collection_is_501(graph: Graph) -> None:
    assert graph.get("/v1.0/users", params={"$select": "id,aboutMe"}).status_code == 501


def test_unknown_segment_is_graphs_400(graph: Graph) -> None:
    response = graph.get("/v1.0/nothingHere")
    assert response.status_code == 400
    assert (
        response.json()["error"]["message"] == "Resource not found for the segment 'nothingHere'."
    )


def test_subscribed_skus_shape_and_units_agree_with_assignments(graph: Graph) -> None:
    body = graph.get("/v1.0/subscribedSkus").json()
    tenant = graph.tenant
    for sku in body["value"]:
        assert set(sku) == {
            "accountName",
            "accountId",
            "appliesTo",
            "capabilityStatus",
            "consumedUnits",
            "id",
            "skuId",
            "skuPartNumber",
            "subscriptionIds",
            "prepaidUnits",
            "servicePlans",
        }
        assert set(sku["prepaidUnits"]) == {"enabled", "suspended", "warning", "lockedOut"}
        assert sku["id"] == f"{tenant.tenant_id}_{sku['skuId']}"
        assert sku["skuPartNumber"] == catalog.skus()[sku["skuId"]].part_number
        holders = sum(1 for u in tenant.users if sku["skuId"] in u.sku_ids())
        assert sku["consumedUnits"] == holders
        for plan in sku["servicePlans"]:
            assert set(plan) == {
                "servicePlanId",
                "servicePlanName",
                "provisioningStatus",
                "appliesTo",
            }
    assert graph.get("/v1.0/subscribedSkus", params={"$filter": "skuId eq 'x'"}).status_code == 400
    selected = graph.get("/v1.0/subscribedSkus", params={"$select": "skuId,consumedUnits"}).json()
    assert all(set(s) == {"skuId", "consumedUnits"} for s in selected["value"])


def _licensed_direct(g: Graph):  # type: ignore[no-untyped-def]
    return next(
        u
        for u in g.tenant.users
        if u.usage_location
        and any(s.assigned_by_group is None for s in u.licenses)
        and all(s.assigned_by_group is None for s in u.licenses)
    )


def test_assign_license_removes_and_restores_units(graph: Graph) -> None:
    user = _licensed_direct(graph)
    state = user.licenses[0]
    sku_id, disabled = state.sku_id, list(state.disabled_plans)
    before = {
        s["skuId"]: s["consumedUnits"] for s in graph.get("/v1.0/subscribedSkus").json()["value"]
    }
    removed = graph.post(
        f"/v1.0/users/{user.id}/assignLicense", json={"addLicenses": [], "removeLicenses": [sku_id]}
    )
    assert removed.status_code == 200, removed.text
    assert sku_id not in [lic["skuId"] for lic in removed.json()["assignedLicenses"]]
    after = {
        s["skuId"]: s["consumedUnits"] for s in graph.get("/v1.0/subscribedSkus").json()["value"]
    }
    assert after[sku_id] == before[sku_id] - 1
    restored = graph.post(
        f"/v1.0/users/{user.upn}/assignLicense",
        json={"addLicenses": [{"skuId": sku_id, "disabledPlans": disabled}], "removeLicenses": []},
    )
    assert restored.status_code == 200
    lic = next(x for x in restored.json()["assignedLicenses"] if x["skuId"] == sku_id)
    assert lic["disabledPlans"] == sorted(disabled)
    assert graph.tenant.assign_calls == 2


def test_assign_license_errors(graph: Graph) -> None:
    tenant = graph.tenant
    user = _licensed_direct(graph)
    missing = graph.post(f"/v1.0/users/{user.id}/assignLicense", json={"addLicenses": []})
    assert missing.status_code == 400
    assert "removeLicenses" in missing.json()["error"]["message"]
    inherited = next(
        u for u in tenant.users if u.licenses and all(s.assigned_by_group for s in u.licenses)
    )
    refused = graph.post(
        f"/v1.0/users/{inherited.id}/assignLicense",
        json={"addLicenses": [], "removeLicenses": [inherited.licenses[0].sku_id]},
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == MSG_GROUP_INHERITED
    no_location = next(u for u in tenant.users if u.usage_location is None)
    e1 = catalog.sku("STANDARDPACK").id
    located = graph.post(
        f"/v1.0/users/{no_location.id}/assignLicense",
        json={"addLicenses": [{"skuId": e1, "disabledPlans": []}], "removeLicenses": []},
    )
    assert located.json()["error"]["message"] == MSG_USAGE_LOCATION
    holding = tenant.holdings[e1]
    holding.enabled = tenant.consumed[e1]
    unlicensed = next(u for u in tenant.users if u.usage_location and e1 not in u.sku_ids())
    full = graph.post(
        f"/v1.0/users/{unlicensed.id}/assignLicense",
        json={"addLicenses": [{"skuId": e1, "disabledPlans": []}], "removeLicenses": []},
    )
    assert full.status_code == 400
    assert "does not have any available licenses" in full.json()["error"]["message"]
    bad_json = graph.post(f"/v1.0/users/{user.id}/assignLicense", content=b"{nope")
    assert bad_json.status_code == 400


def test_delta_round_then_changes(graph: Graph) -> None:
    items: list[dict[str, object]] = []
    url: str | None = "/v1.0/users/delta?$select=id,assignedLicenses"
    delta_link = None
    while url:
        body = graph.get(url).json()
        items += body["value"]
        url = body.get("@odata.nextLink")
        delta_link = body.get("@odata.deltaLink", delta_link)
    assert len(items) == len(graph.tenant.users)
    assert delta_link and "$deltatoken=" in delta_link
    empty = graph.get(delta_link).json()
    assert empty["value"] == []
    user = _licensed_direct(graph)
    graph.post(
        f"/v1.0/users/{user.id}/assignLicense",
        json={"addLicenses": [], "removeLicenses": [user.licenses[0].sku_id]},
    )
    changed = graph.get(delta_link).json()
    assert [u["id"] for u in changed["value"]] == [user.id]


def test_deleted_users_listed_with_deleted_date(graph: Graph) -> None:
    body = graph.get("/v1.0/directory/deletedItems/microsoft.graph.user").json()
    assert body["value"]
    assert all(item["deletedDateTime"] for item in body["value"])
    live = {u.id for u in graph.tenant.users}
    assert not live & {item["id"] for item in body["value"]}


@pytest.mark.parametrize("path", ["/v1.0/users", "/v1.0/subscribedSkus"])
def test_same_seed_same_bytes(path: str) -> None:
    first, second = Graph(make_tenant()), Graph(make_tenant())
    url = f"{path}?$select=id" if path.endswith("users") else path
    assert first.get(url).content == second.get(url).content


def test_filter_by_a_list_of_ids(graph: Graph) -> None:
    users = graph.tenant.users
    wanted = [users[7].id, users[2].id, "00000000-0000-4000-8000-000000000000"]
    listed = ", ".join(f"'{user_id}'" for user_id in wanted)
    response = graph.get(
        "/v1.0/users", params={"$filter": f"id in ({listed})", "$select": "id,displayName"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [u["id"] for u in body["value"]] == [users[2].id, users[7].id]  # directory order
    assert "@odata.nextLink" not in body
    one = graph.get("/v1.0/users", params={"$filter": f"id in ('{users[3].id}') or id eq 'x'"})
    assert one.status_code == 200  # not a plain list of ids: evaluated as any filter
