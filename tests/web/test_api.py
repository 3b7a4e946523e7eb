"""The reporting API over real HTTP against a synced simulated tenant: every endpoint agrees
with the CLI's `--format json` (and `--format csv`), paging through `@odata.nextLink` yields
exactly the CLI's records, writes need an admin token and store nothing when refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sync.conftest import Seatwise, serve
from tests.web.conftest import Web

USERS = 200


def _bearer(web: Web, role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {web.tokens[role]}"}


def _get(client: httpx.Client, url: str, **params: Any) -> Any:
    answer = client.get(url, params=params) if params else client.get(url)
    assert answer.status_code == 200, answer.text
    return answer.json()


PAGE = "odata.maxpagesize"


def _all(client: httpx.Client, url: str, *, size: int | None = None, **params: Any) -> list[Any]:
    """Every record of a collection, following `@odata.nextLink` (`size`: the page size asked
    with `Prefer: odata.maxpagesize`)."""
    if size is not None:
        client.headers["Prefer"] = f"{PAGE}={size}"
    try:
        return _follow(client, url, **params)
    finally:
        client.headers.pop("Prefer", None)


def _follow(client: httpx.Client, url: str, **params: Any) -> list[dict[str, Any]]:
    page = _get(client, url, **params)
    records = list(page["value"])
    pages = 1
    while "@odata.nextLink" in page:
        link = page["@odata.nextLink"]
        assert link.startswith("http://127.0.0.1:")
        page = _get(client, link)
        records.extend(page["value"])
        pages += 1
        assert pages < 1000
    return records


def _cli_json(seatwise: Seatwise, *args: str) -> Any:
    done = seatwise(*args, "--format", "json")
    assert done.code == 0, done.err
    return done.json()


def _cli_csv(seatwise: Seatwise, *args: str) -> str:
    done = seatwise(*args, "--format", "csv")
    assert done.code == 0, done.err
    return done.out


def _synced(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim", users=USERS) as sim:
        assert seatwise.add_app_only(sim).code == 0
        synced = seatwise("sync")
        assert synced.code == 0, synced.err


SERVICES = (
    "Exchange",
    "Outlook",
    "Teams",
    "OneDrive",
    "SharePoint",
    "Skype for Business",
    "Yammer",
    "Dynamics 365",
    "Power BI",
    "Project",
    "Visio",
)


def _without(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != key}


def _long_activity(wide: list[dict[str, Any]], services: tuple[str, ...]) -> list[dict[str, Any]]:
    """The CLI's per-user activity (one key per service) as the API's records."""
    records = []
    for user in wide:
        for service in services:
            shown = user[service]
            if shown is None:
                continue
            words = {"never": "never", "not available": "not_available"}
            records.append(
                {
                    "user_id": user["id"],
                    "service": service,
                    "upn": user["upn"],
                    "display_name": user["display_name"],
                    "last_activity": None if shown in words else shown,
                    "status": words.get(shown, "active"),
                    "report_date": user["as_of"],
                }
            )
    return records


def _csv_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").strip("\n").split("\n")


def test_reads_agree_with_the_cli(web: Web, seatwise: Seatwise, tmp_path: Path) -> None:
    _synced(seatwise, tmp_path)
    with web.client(headers=_bearer(web, "viewer")) as client:
        cli_users = _cli_json(seatwise, "users")
        assert len(cli_users) >= USERS
        paged = _all(client, "/api/v1/users", size=37)
        assert paged == cli_users
        first = client.get("/api/v1/users", headers={"Prefer": f"{PAGE}=37"})
        assert first.headers["odata-version"] == "4.0"
        first_page = first.json()
        assert len(first_page["value"]) == 37 and "$skip=37" in first_page["@odata.nextLink"]
        assert first_page["@odata.context"] == f"{web.base_url}/api/v1/$metadata#users"
        # $top bounds the answer (no next page), as OData has it.
        assert _get(client, "/api/v1/users", **{"$top": 37})["value"] == cli_users[:37]
        whole = _get(client, "/api/v1/users")  # default page: up to 1000, the last page
        assert whole["value"] == cli_users and "@odata.nextLink" not in whole
        one = cli_users[5]
        assert _get(client, f"/api/v1/users/{one['id']}") == one
        assert client.get("/api/v1/users/no-such-id").status_code == 404

        # The CLI's filters and sort, as $filter and $orderby.
        for odata, cli in (
            ("guest eq true", ("--guest",)),
            ("contains(upn,'a') and mfa eq false", ("--upn", "a", "--no-mfa")),
            ("inactive_days ge 30 and blocked eq false", ("--inactive-days", "30", "--no-blocked")),
            ("license eq 'ENTERPRISEPACK'", ("--license", "ENTERPRISEPACK")),
            (f"country eq '{one['country']}'", ("--country", str(one["country"]))),
        ):
            expected = _cli_json(seatwise, "users", *cli)
            assert expected, odata
            assert _all(client, "/api/v1/users", size=50, **{"$filter": odata}) == expected
        by_activity = _all(client, "/api/v1/users", **{"$orderby": "last_activity desc"})
        assert by_activity == _cli_json(seatwise, "users", "--sort", "-last_activity")

        assert _all(client, "/api/v1/licenses") == _cli_json(seatwise, "licenses")
        everything = _all(client, "/api/v1/licenses", size=3, all="true")
        assert everything == _cli_json(seatwise, "licenses", "--all")
        # Activity: one record per user and service, the CLI's value in `status`/`last_activity`.
        wide = _cli_json(seatwise, "activity")
        long = _all(client, "/api/v1/activity", size=60)
        assert [_without(r, "licensed") for r in long] == _long_activity(wide, SERVICES)
        teams = _all(client, "/api/v1/activity", service=["teams", "Visio"])
        narrow = _cli_json(seatwise, "activity", "--service", "teams", "--service", "Visio")
        assert [_without(r, "licensed") for r in teams] == _long_activity(
            narrow, ("Teams", "Visio")
        )
        assert all(r["licensed"] for r in long if r["status"] != "active")
        assert {r["status"] for r in long} == {"active", "never", "not_available"}
        recommended = _cli_json(seatwise, "recommendations")
        assert recommended
        keyed = _all(client, "/api/v1/recommendations", size=7)
        assert [_without(r, "id") for r in keyed] == recommended
        assert len({r["id"] for r in keyed}) == len(keyed)
        inactive = _all(client, "/api/v1/recommendations", **{"$filter": "rule eq 'inactive'"})
        assert [_without(r, "id") for r in inactive] == _cli_json(
            seatwise, "recommendations", "--rule", "inactive"
        )

        runs = _all(client, "/api/v1/task_runs")
        assert _all(client, "/api/v1/task-runs") == runs  # the older path
        assert sorted(r["task"] for r in runs) == [
            "access",
            "differentiation",
            "license-info",
            "roster",
        ]
        assert all(r["status"] == "succeeded" and r["duration_s"] >= 0 for r in runs)
        roster = _all(client, "/api/v1/task-runs", **{"$filter": "task eq 'roster'"})
        assert [r["task"] for r in roster] == ["roster"] and roster[0]["counts"]

        # CSV: the CLI's CSV, whole (no paging asked) or one page.
        csv = client.get("/api/v1/users", params={"format": "csv"})
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        assert _csv_lines(csv.text) == _csv_lines(_cli_csv(seatwise, "users"))
        page = client.get("/api/v1/users", params={"format": "csv", "$top": 10, "$skip": 5})
        assert (
            _csv_lines(page.text)
            == _csv_lines(_cli_csv(seatwise, "users"))[:1]
            + (_csv_lines(_cli_csv(seatwise, "users"))[6:16])
        )
        for path, args in (
            ("/api/v1/licenses", ("licenses",)),
            ("/api/v1/recommendations", ("recommendations",)),
        ):
            answer = client.get(path, params={"$format": "csv"})
            assert _csv_lines(answer.text) == _csv_lines(_cli_csv(seatwise, *args)), path
        by_accept = client.get("/api/v1/licenses", headers={"Accept": "text/csv"})
        assert _csv_lines(by_accept.text) == _csv_lines(_cli_csv(seatwise, "licenses"))
        differentiation = _all(client, "/api/v1/license_differentiation")
        assert differentiation == _cli_json(seatwise, "activity", "--differentiation")
        assert differentiation
        itam = _all(client, "/api/v1/itam")
        with web.client() as browser:  # the UI's ITAM export holds the same records
            web.login(browser)
            assert itam == browser.get("/export/itam.json").json() and itam


def test_kept_answers_end_with_the_next_sync(web: Web, seatwise: Seatwise, tmp_path: Path) -> None:
    """Users and activity pages are kept until the tenant's data changes: asked twice they come
    from the kept answers; after a sync that changed a user they are the CLI's new records."""
    answers = web.app.state.web.answers
    with serve(tmp_path / "sim", users=60) as sim, web.client(headers=_bearer(web)) as client:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        pages = {
            "users": ("/api/v1/users", {"$top": 20, "$skip": 20}),
            "activity": ("/api/v1/activity", {"$top": 20, "$filter": "service eq 'Exchange'"}),
        }
        before = {name: _get(client, path, **params) for name, (path, params) in pages.items()}
        hits = answers.hits
        again = {name: _get(client, path, **params) for name, (path, params) in pages.items()}
        assert again == before and answers.hits == hits + 2

        # The first user of the users page signs in now; a sync brings it in.
        signed = before["users"]["value"][0]
        moment = sim.control(f"users/{signed['id']}/signin")["lastSignInDateTime"]
        assert seatwise("sync").code == 0
        after = _get(client, pages["users"][0], **pages["users"][1])
        assert after != before["users"]
        assert after["value"][0]["last_sign_in"][:19] == moment[:19]
        cli = _cli_json(seatwise, "users")
        assert after["value"] == cli[20:40]
        activity = _get(client, pages["activity"][0], **pages["activity"][1])
        exchange = _long_activity(_cli_json(seatwise, "activity"), ("Exchange",))[:20]
        assert [_without(r, "licensed") for r in activity["value"]] == exchange


def test_recommendations_are_evaluated_again_only_when_their_inputs_change(
    web: Web, seatwise: Seatwise, tmp_path: Path
) -> None:
    """The API, the Recommendations page and the Overview share one evaluation per tenant, kept
    until a sync or a contract change; what they show is always the CLI's."""
    kept = web.app.state.web.findings
    with serve(tmp_path / "sim", users=60) as sim, web.client(headers=_bearer(web)) as admin:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
        first = [_without(r, "id") for r in _all(admin, "/api/v1/recommendations")]
        assert first == _cli_json(seatwise, "recommendations") and kept.evaluations == 1
        inactive = [
            _without(r, "id")
            for r in _all(admin, "/api/v1/recommendations", **{"$filter": "rule eq 'inactive'"})
        ]
        assert inactive == [r for r in first if r["rule"] == "inactive"]
        with web.client() as browser:
            web.login(browser)
            assert browser.get("/").status_code == 200
            assert browser.get("/recommendations").status_code == 200
        assert kept.evaluations == 1

        priced = admin.patch(
            "/api/v1/licenses/enterprisepack",
            json={"cost": "31.00", "currency": "EUR", "payment_frequency": "monthly"},
        )
        assert priced.status_code == 200, priced.text
        repriced = [_without(r, "id") for r in _all(admin, "/api/v1/recommendations")]
        assert kept.evaluations == 2 and repriced != first
        assert repriced == _cli_json(seatwise, "recommendations")

        gone = next(r for r in repriced if r["rule"] in ("inactive", "never-used"))
        sim.control(f"users/{gone['upn']}/delete")
        assert seatwise("sync").code == 0
        resynced = [_without(r, "id") for r in _all(admin, "/api/v1/recommendations")]
        assert kept.evaluations == 3
        assert resynced == _cli_json(seatwise, "recommendations") and resynced != repriced


def test_contract_changes_and_plans(web: Web, seatwise: Seatwise, tmp_path: Path) -> None:
    _synced(seatwise, tmp_path)
    before = {p["sku_id"]: p for p in _cli_json(seatwise, "licenses", "--all")}
    sku = next(p for p in before.values() if p["sku_part_number"] == "ENTERPRISEPACK")
    with web.client(headers=_bearer(web)) as admin:
        changed = admin.patch(
            "/api/v1/licenses/enterprisepack",
            json={
                "cost": "20.50",
                "currency": "EUR",
                "payment_frequency": "monthly",
                "effective_date": "2026-01-01",
                "expiration_date": "2027-06-30",
            },
        )
        assert changed.status_code == 200, changed.text
        shown = {p["sku_id"]: p for p in _cli_json(seatwise, "licenses", "--all")}
        assert changed.json() == shown[sku["sku_id"]]
        assert shown[sku["sku_id"]]["cost"] == "20.50"
        assert shown[sku["sku_id"]]["annual_cost"] == f"{20.5 * 12 * sku['purchased']:.2f}"

        for body, words in (
            ({"cost": "-3"}, "cost must be 0 or more"),
            ({"cost": "twelve"}, "cost must be a number"),
            ({"currency": "euro"}, "currency must be three upper-case letters"),
            ({"expiration_date": "2025-01-01"}, "is before its effective date"),
            ({"effective_date": "31/01/2026"}, "effective_date must be an ISO date"),
            ({"managed": None}, "managed must be true or false"),
            ({"colour": "red"}, "colour"),
            ({}, "Send at least one of"),
        ):
            refused = admin.patch(f"/api/v1/licenses/{sku['sku_id']}", json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert words in refused.json()["error"]["message"], refused.text
        after = {p["sku_id"]: p for p in _cli_json(seatwise, "licenses", "--all")}
        assert after == shown  # nothing stored by the refusals
        missing = admin.patch("/api/v1/licenses/NOPE", json={"managed": False})
        assert missing.status_code == 404 and "no SKU 'NOPE'" in missing.json()["error"]["message"]

        unmanaged = admin.patch(f"/api/v1/licenses/{sku['sku_id']}", json={"managed": False})
        assert unmanaged.status_code == 200 and unmanaged.json()["managed"] is False
        assert unmanaged.json()["cost"] == "20.50"  # kept
        assert sku["sku_id"] not in {p["sku_id"] for p in _cli_json(seatwise, "licenses")}
        cleared = admin.patch(
            f"/api/v1/licenses/{sku['sku_id']}",
            json={"managed": True, "cost": None, "currency": None},
        )
        assert cleared.status_code == 200 and cleared.json()["cost"] is None

        made = admin.post("/api/v1/plans", json={"rules": ["inactive", "blocked"]})
        assert made.status_code == 201, made.text
        plan = made.json()
        assert plan["status"] == "draft" and plan["users"] > 0
        assert plan["created_by"] == "api:token:admin token"
        detail = _get(admin, f"/api/v1/plans/{plan['id']}")
        cli_show = _cli_json(seatwise, "reclaim", "show", str(plan["id"]))
        assert detail == cli_show
        assert _all(admin, f"/api/v1/plans/{plan['id']}/items", size=5) == (cli_show["licences"])
        items_csv = admin.get(f"/api/v1/plans/{plan['id']}/items", params={"format": "csv"})
        assert _csv_lines(items_csv.text) == _csv_lines(
            _cli_csv(seatwise, "reclaim", "show", str(plan["id"]))
        )
        assert _all(admin, "/api/v1/plans") == [
            {k: v for k, v in detail.items() if k != "licences"}
        ]
        nobody = admin.post("/api/v1/plans", json={"users": ["nobody@example.test"]})
        assert nobody.status_code == 422 and nobody.json()["error"]["message"]

        approved = admin.post(f"/api/v1/plans/{plan['id']}/approve")
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        assert approved.json()["approved_by"] == "api:token:admin token"
        again = admin.post(f"/api/v1/plans/{plan['id']}/approve")
        assert again.status_code == 409 and "only a draft" in again.json()["error"]["message"]
        assert admin.post("/api/v1/plans/999/approve").status_code == 404

        audit = [_without(e, "id") for e in _all(admin, "/api/v1/audit", size=1)]
        assert audit == _cli_json(seatwise, "audit")
        assert [e["action"] for e in audit][:2] == ["plan.approve", "plan.create"]
        # Every contract change above is audited too, with the actor and the terms before/after.
        changes = [e for e in audit if e["action"] == "contract.set"]
        assert changes and {e["actor"] for e in changes} == {"api:token:admin token"}
        assert changes[-1]["after"][0]["cost"] == "20.50"
        only = [
            _without(e, "id")
            for e in _all(admin, "/api/v1/audit", **{"$filter": f"plan eq {plan['id']}"})
        ]
        assert only == _cli_json(seatwise, "audit", "--plan", str(plan["id"]))
        audit_csv = admin.get("/api/v1/audit", params={"format": "csv"})
        assert _csv_lines(audit_csv.text) == _csv_lines(_cli_csv(seatwise, "audit"))


WRITES = (
    ("PATCH", "/api/v1/licenses/ENTERPRISEPACK", {"managed": False}),
    ("POST", "/api/v1/plans", {"rules": ["inactive"]}),
    ("POST", "/api/v1/plans/1/approve", None),
)
READS = (
    "/api/v1/",
    "/api/v1/$metadata",
    "/api/v1/tenants",
    "/api/v1/users/$count",
    "/api/v1/users('x')",
    "/api/v1/license_differentiation",
    "/api/v1/itam",
    "/api/v1/users",
    "/api/v1/users/x",
    "/api/v1/licenses",
    "/api/v1/activity",
    "/api/v1/recommendations",
    "/api/v1/task-runs",
    "/api/v1/plans",
    "/api/v1/plans/1",
    "/api/v1/plans/1/items",
    "/api/v1/audit",
)


def test_who_may_read_and_write(web: Web) -> None:
    with web.client() as anonymous:
        for path in READS:
            refused = anonymous.get(path)
            assert refused.status_code == 401, path
            assert refused.json()["error"]["message"].startswith("Send an API token")
        for method, path, body in WRITES:
            assert anonymous.request(method, path, json=body).status_code == 401, path
    with web.client(headers=_bearer(web, "viewer")) as viewer:
        for method, path, body in WRITES:
            refused = viewer.request(method, path, json=body)
            assert refused.status_code == 403, path
            assert refused.json()["error"]["message"] == "This token is read-only (role viewer)."
    with web.client() as browser:  # a signed-in admin's session reads, but cannot write
        web.login(browser, "admin")
        assert browser.get("/api/v1/tenants").status_code == 200
        for method, path, body in WRITES:
            assert browser.request(method, path, json=body).status_code == 403, path


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("/api/v1/users", {"$top": "-1"}, 422, "$top"),
        ("/api/v1/users", {"$skip": "-1"}, 422, "$skip"),
        ("/api/v1/users", {"$top": "ten"}, 422, "$top"),
        ("/api/v1/users", {"$filter": "upn eq"}, 400, "could not be read"),
        ("/api/v1/users", {"$filter": "colour eq 'red'"}, 400, "cannot use 'colour'"),
        ("/api/v1/users", {"$filter": "guest eq yes"}, 400, "cannot use 'yes'"),
        ("/api/v1/users", {"$filter": "inactive_days ge -3"}, 400, "inactive_days ge 90"),
        ("/api/v1/users", {"$orderby": "colour"}, 400, "Cannot order by 'colour'"),
        ("/api/v1/users", {"$orderby": "upn sideways"}, 400, "asc or desc"),
        ("/api/v1/users", {"format": "xml"}, 400, "json or csv"),
        ("/api/v1/users", {"$expand": "licenses"}, 501, "$expand"),
        ("/api/v1/activity", {"service": "Fax"}, 400, "Unknown service 'Fax'"),
        ("/api/v1/recommendations", {"$filter": "rule eq 3"}, 400, "compares rule"),
        ("/api/v1/audit", {"$filter": "plan eq 'x'"}, 400, "compares plan"),
        ("/api/v1/users", {"tenant": "nope"}, 404, "no tenant called 'nope'"),
        ("/api/v1/licenses", {}, 404, "no tenant yet"),
        ("/api/v1/plans/0", {}, 422, "plan_id"),
    ],
)
def test_bad_requests_get_one_clear_message(
    web: Web, path: str, params: dict[str, str], status: int, words: str
) -> None:
    with web.client(headers=_bearer(web, "viewer")) as client:
        answer = client.get(path, params=params)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["odata-version"] == "4.0"
    error = answer.json()["error"]
    assert isinstance(error["code"], str) and words in error["message"], error
