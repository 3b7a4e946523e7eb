"""A working day's churn (`/_control/churn`) and `/users/delta`: rounds that end in a delta
link, changes since a token (removals as `@removed`), and tokens expired through `/_control`.
"""

from __future__ import annotations

from typing import Any

from .conftest import Graph

SELECT = {"$select": "id,displayName,jobTitle,department,assignedLicenses"}


def _round(graph: Graph, url: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
    """Every item of one delta round and its delta link."""
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    while True:
        response = graph.get(next_url, **kwargs)
        kwargs.pop("params", None)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["value"])
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body
            return items, body["@odata.deltaLink"]
        next_url = body["@odata.nextLink"]


def test_initial_round_then_nothing_then_changes(graph: Graph) -> None:
    tenant = graph.tenant
    everyone, link = _round(graph, "/v1.0/users/delta", params=SELECT)
    assert [u["id"] for u in everyone] == [u.id for u in tenant.users]
    nothing, link = _round(graph, link)
    assert nothing == []
    edited, gone, purged = tenant.users[5], tenant.users[6], tenant.users[7]
    edited.job_title = "Chief Tester"
    tenant._changed(edited)
    assert graph.post(f"/_control/users/{gone.id}/delete").status_code == 200
    assert graph.post(f"/_control/users/{purged.id}/purge").status_code == 200
    changes, link = _round(graph, link)
    by_id = {u["id"]: u for u in changes}
    assert set(by_id) == {edited.id, gone.id, purged.id}
    assert by_id[edited.id]["jobTitle"] == "Chief Tester"
    assert by_id[gone.id] == {"id": gone.id, "@removed": {"reason": "changed"}}
    assert by_id[purged.id] == {"id": purged.id, "@removed": {"reason": "deleted"}}
    assert "$select=" in link  # the query options of the first call are kept
    assert _round(graph, link)[0] == []


def test_expired_delta_tokens_answer_410(graph: Graph) -> None:
    _, link = _round(graph, "/v1.0/users/delta", params=SELECT)
    assert graph.post("/_control/delta/expire").status_code == 204
    response = graph.get(link)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "resyncRequired"
    assert graph.get("/v1.0/users/delta", params={"$deltatoken": "bogus"}).status_code == 400


def test_churn_changes_a_share_of_users_like_a_working_day(graph: Graph) -> None:
    tenant = graph.tenant
    before = {u.id: (u.job_title, u.department, u.display_name, u.sku_ids()) for u in tenant.users}
    consumed = dict(tenant.consumed)
    _, link = _round(graph, "/v1.0/users/delta", params=SELECT)
    answer = graph.post("/_control/churn", json={"fraction": 0.2})
    assert answer.status_code == 200, answer.text
    changed = answer.json()["changed"]
    assert sum(changed.values()) == round(len(before) * 0.2)
    assert all(changed[k] > 0 for k in ("join", "leave", "licence", "edit", "sign-in"))
    now = {u.id for u in tenant.users}
    joined, left = now - set(before), set(before) - now
    assert len(joined) == changed["join"] and len(left) == changed["leave"]
    listed = {u["id"] for u in graph.pages("/v1.0/users", params={"$select": "id"})}
    assert listed == now
    deleted = graph.pages("/v1.0/directory/deletedItems/microsoft.graph.user")
    assert left <= {u["id"] for u in deleted}
    changes, _ = _round(graph, link)
    removed = {u["id"] for u in changes if "@removed" in u}
    assert removed == left
    assert joined <= {u["id"] for u in changes}
    edited = {
        uid
        for uid, facts in before.items()
        if uid in now
        and facts
        != (
            (u := tenant.users_by_id[uid]).job_title,
            u.department,
            u.display_name,
            u.sku_ids(),
        )
    }
    assert edited and edited <= {u["id"] for u in changes}
    assert tenant.consumed != consumed
    skus = {s["skuId"]: s for s in graph.get("/v1.0/subscribedSkus").json()["value"]}
    for sku_id, used in tenant.consumed.items():
        if sku_id in skus:
            assert skus[sku_id]["consumedUnits"] == used
            assert skus[sku_id]["prepaidUnits"]["enabled"] >= used
    # New sign-ins: in signInActivity (filterable) and in the sign-in log.
    stamp = tenant.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    signed = graph.pages(
        "/v1.0/users",
        params={
            "$filter": f"signInActivity/lastSignInDateTime ge {stamp}",
            "$select": "id,signInActivity",
        },
    )
    assert len(signed) == changed["sign-in"]
    log = graph.pages("/v1.0/auditLogs/signIns", params={"$filter": f"createdDateTime ge {stamp}"})
    assert {e["userId"] for e in log} == {u["id"] for u in signed}


def test_churn_is_deterministic(tenant: Any) -> None:
    from .conftest import make_tenant

    one, two = make_tenant(), make_tenant()
    assert one.churn(0.1) == two.churn(0.1)
    assert [u.id for u in one.users] == [u.id for u in two.users]
    assert [(u.job_title, u.sku_ids()) for u in one.users] == [
        (u.job_title, u.sku_ids()) for u in two.users
    ]


def test_delta_token_latest_syncs_from_now(graph: Graph) -> None:
    tenant = graph.tenant
    nothing, link = _round(graph, "/v1.0/users/delta", params={**SELECT, "$deltatoken": "latest"})
    assert nothing == []  # "sync from now": no users, only a link
    assert "$select=" in link
    assert _round(graph, link)[0] == []
    edited = tenant.users[3]
    edited.job_title = "Started From Now"
    tenant._changed(edited)
    changes, _ = _round(graph, link)
    assert [(u["id"], u["jobTitle"]) for u in changes] == [(edited.id, "Started From Now")]
