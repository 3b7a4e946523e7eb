"""Usage reports of the simulator against Graph's documented shapes (graph-facts §3, §8, §10)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from seatwise.simulator import catalog, reports
from seatwise.simulator.report_rows import Facts
from seatwise.simulator.tenant import Tenant

from .conftest import Graph, make_tenant

# Header lines copied verbatim from graph-facts §3.2 (mailbox: the full 17-column beta list).
HEADERS = {
    "getOffice365ActiveUserDetail(period='D7')": "Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,Has Exchange License,Has OneDrive License,Has SharePoint License,Has Skype For Business License,Has Yammer License,Has Teams License,Exchange Last Activity Date,OneDrive Last Activity Date,SharePoint Last Activity Date,Skype For Business Last Activity Date,Yammer Last Activity Date,Teams Last Activity Date,Exchange License Assign Date,OneDrive License Assign Date,SharePoint License Assign Date,Skype For Business License Assign Date,Yammer License Assign Date,Teams License Assign Date,Assigned Products",  # noqa: E501
    "getM365AppUserDetail(period='D7')": "Report Refresh Date,User Principal Name,Last Activation Date,Last Activity Date,Report Period,Windows,Mac,Mobile,Web,Outlook,Word,Excel,PowerPoint,OneNote,Teams,Outlook (Windows),Word (Windows),Excel (Windows),PowerPoint (Windows),OneNote (Windows),Teams (Windows),Outlook (Mac),Word (Mac),Excel (Mac),PowerPoint (Mac),OneNote (Mac),Teams (Mac),Outlook (Mobile),Word (Mobile),Excel (Mobile),PowerPoint (Mobile),OneNote (Mobile),Teams (Mobile),Outlook (Web),Word (Web),Excel (Web),PowerPoint (Web),OneNote (Web),Teams (Web)",  # noqa: E501
    "getOffice365ActivationsUserDetail": "Report Refresh Date,User Principal Name,Display Name,Product Type,Last Activated Date,Windows,Mac,Windows 10 Mobile,iOS,Android,Activated On Shared Computer",  # noqa: E501
    "getOneDriveUsageAccountDetail(period='D7')": "Report Refresh Date,Site URL,Owner Display Name,Is Deleted,Last Activity Date,File Count,Active File Count,Storage Used (Byte),Storage Allocated (Byte),Owner Principal Name,Report Period",  # noqa: E501
    "getMailboxUsageDetail(period='D7')": "Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,Created Date,Last Activity Date,Item Count,Storage Used (Byte),Issue Warning Quota (Byte),Prohibit Send Quota (Byte),Prohibit Send/Receive Quota (Byte),Deleted Item Count,Deleted Item Size (Byte),Deleted Item Quota (Byte),Has Archive,Report Period",  # noqa: E501
    "getEmailActivityUserDetail(period='D7')": "Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,Last Activity Date,Send Count,Receive Count,Read Count,Meeting Created Count,Meeting Interacted Count,Assigned Products,Report Period",  # noqa: E501
}
CALLS = list(HEADERS)

# Beta JSON property names from graph-facts §3.2.
_M365_DETAIL = (
    "reportPeriod windows mac mobile web outlook word excel powerPoint oneNote teams "
    + " ".join(
        f"{app}{platform}"
        for platform in ("Windows", "Mac", "Mobile", "Web")
        for app in ("outlook", "word", "excel", "powerPoint", "oneNote", "teams")
    )
)
JSON_NAMES = {
    "getOffice365ActiveUserDetail(period='D7')": "reportRefreshDate userPrincipalName displayName isDeleted deletedDate hasExchangeLicense hasOneDriveLicense hasSharePointLicense hasSkypeForBusinessLicense hasYammerLicense hasTeamsLicense exchangeLastActivityDate oneDriveLastActivityDate sharePointLastActivityDate skypeForBusinessLastActivityDate yammerLastActivityDate teamsLastActivityDate exchangeLicenseAssignDate oneDriveLicenseAssignDate sharePointLicenseAssignDate skypeForBusinessLicenseAssignDate yammerLicenseAssignDate teamsLicenseAssignDate assignedProducts",  # noqa: E501
    "getM365AppUserDetail(period='D7')": "reportRefreshDate userPrincipalName lastActivationDate lastActivityDate details",  # noqa: E501
    "getOffice365ActivationsUserDetail": "reportRefreshDate userPrincipalName displayName userActivationCounts",  # noqa: E501
    "getOneDriveUsageAccountDetail(period='D7')": "reportRefreshDate siteUrl ownerDisplayName ownerPrincipalName isDeleted lastActivityDate fileCount activeFileCount storageUsedInBytes storageAllocatedInBytes reportPeriod",  # noqa: E501
    "getMailboxUsageDetail(period='D7')": "reportRefreshDate userPrincipalName displayName isDeleted deletedDate createdDate lastActivityDate itemCount storageUsedInBytes deletedItemCount deletedItemSizeInBytes deletedItemQuota hasArchive issueWarningQuotaInBytes prohibitSendQuotaInBytes prohibitSendReceiveQuotaInBytes reportPeriod",  # noqa: E501
    "getEmailActivityUserDetail(period='D7')": "reportRefreshDate userPrincipalName displayName isDeleted deletedDate lastActivityDate sendCount receiveCount readCount assignedProducts meetingCreatedCount meetingInteractedCount reportPeriod",  # noqa: E501
}
ACTIVATION_COUNT_NAMES = set(
    "productType lastActivatedDate windows mac windows10Mobile ios android "
    "activatedOnSharedComputer".split()
)
HEX32 = re.compile(r"^[0-9A-F]{32}$")


def plain_client(graph: Graph) -> TestClient:
    """A client with no Authorization header, as pre-authenticated downloads need."""
    return TestClient(graph.app, follow_redirects=False)


def fetch_csv(graph: Graph, call: str, version: str = "v1.0") -> bytes:
    """Call a report, check the 302, download the CSV without a token."""
    response = graph.get(f"/{version}/reports/{call}")
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith("https://localhost/data/download/")
    download = plain_client(graph).get(location)
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/octet-stream"
    return bytes(download.content)


def csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def report(graph: Graph, call: str) -> list[dict[str, str]]:
    return csv_rows(fetch_csv(graph, call))


def json_pages(graph: Graph, call: str, **params: str) -> list[dict[str, Any]]:
    """Every JSON item, following `@odata.nextLink` as-is. (Options go on the first request
    only: httpx replaces a URL's query string when `params=` is passed.)"""
    items: list[dict[str, Any]] = []
    response = graph.get(f"/beta/reports/{call}", params={"$format": "application/json", **params})
    for _ in range(1000):
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["value"])
        if "@odata.nextLink" not in body:
            return items
        response = graph.get(body["@odata.nextLink"])
    raise AssertionError("nextLink never ended")


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


# -- CSV flow --------------------------------------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_csv_header_is_byte_exact_with_bom_and_crlf(graph: Graph, call: str) -> None:
    body = fetch_csv(graph, call)
    assert body.startswith(b"\xef\xbb\xbf" + HEADERS[call].encode() + b"\r\n")
    assert len(csv_rows(body)) > 0
    beta = fetch_csv(graph, call, version="beta")  # beta defaults to CSV too
    assert beta == body


def test_302_points_to_another_host_and_download_refuses_a_bearer_token(graph: Graph) -> None:
    response = graph.get("/v1.0/reports/getOffice365ActiveUserDetail(period='D7')")
    assert response.status_code == 302
    assert response.headers["content-type"].startswith("text/plain")
    location = response.headers["location"]
    assert not location.startswith("https://127.0.0.1")
    # The Graph client still carries its Authorization header: refused, as storage does.
    refused = graph.get(location)
    assert refused.status_code == 401
    assert b"AuthenticationFailed" in refused.content
    assert plain_client(graph).get(location).status_code == 200
    assert plain_client(graph).get(location).status_code == 200  # valid for a few minutes


def test_expired_and_unknown_download_links_are_refused(graph: Graph, tenant: Tenant) -> None:
    tenant.options.download_ttl_s = 0.0
    location = graph.get("/v1.0/reports/getMailboxUsageDetail(period='D7')").headers["location"]
    assert plain_client(graph).get(location).status_code == 410
    assert plain_client(graph).get("/data/download/nope").status_code == 404


def test_if_none_match_gives_304_until_the_tenant_changes(graph: Graph, tenant: Tenant) -> None:
    url = "/v1.0/reports/getEmailActivityUserDetail(period='D30')"
    etag = graph.get(url).headers["etag"]
    assert graph.get(url, headers={"If-None-Match": etag}).status_code == 304
    tenant.advance(timedelta(days=1))
    changed = graph.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 302
    assert changed.headers["etag"] != etag


def test_report_calls_need_a_token_and_are_counted(graph: Graph) -> None:
    anonymous = plain_client(graph).get("/v1.0/reports/getMailboxUsageDetail(period='D7')")
    assert anonymous.status_code == 401
    graph.get("/v1.0/reports/getMailboxUsageDetail(period='D7')")
    graph.get("/beta/reports/getMailboxUsageDetail(period='D7')")
    assert graph.app.state.sim.calls["report:getMailboxUsageDetail"] == 2


# -- parameters ------------------------------------------------------------------------------


def test_refresh_date_lags_two_or_three_days(graph: Graph, tenant: Tenant) -> None:
    for call in CALLS:
        for row in report(graph, call):
            lag = tenant.today - tenant.refresh_date
            assert row["Report Refresh Date"] == tenant.refresh_date.isoformat()
            assert lag in (timedelta(days=2), timedelta(days=3))


def test_date_form_accepts_the_last_28_days_quoted_or_not(graph: Graph, tenant: Tenant) -> None:
    day = tenant.refresh_date - timedelta(days=1)
    rows = report(graph, f"getEmailActivityUserDetail(date={day.isoformat()})")
    quoted = report(graph, f"getOffice365ActiveUserDetail(date='{day.isoformat()}')")
    assert rows and quoted
    assert {r["Report Refresh Date"] for r in rows} == {day.isoformat()}
    assert {r["Report Period"] for r in rows} == {"1"}
    oldest = tenant.today - timedelta(days=28)
    assert graph.get(f"/v1.0/reports/getM365AppUserDetail(date={oldest})").status_code == 302


@pytest.mark.parametrize("days_ago", [29, 31, 60, -1])
def test_date_form_rejects_days_outside_the_window(
    graph: Graph, tenant: Tenant, days_ago: int
) -> None:
    day = tenant.today - timedelta(days=days_ago)
    response = graph.get(f"/v1.0/reports/getOneDriveUsageAccountDetail(date={day})")
    assert response.status_code == 400
    assert error(response)["code"] == "InvalidArgument"
    assert error(response)["message"] == (
        f"Invalid date value specified: {day}. Only support data for the past 28 days."
    )


def test_days_not_processed_yet_give_a_header_only_report(graph: Graph, tenant: Tenant) -> None:
    body = fetch_csv(graph, f"getEmailActivityUserDetail(date={tenant.today})")
    assert (
        body
        == b"\xef\xbb\xbf" + HEADERS["getEmailActivityUserDetail(period='D7')"].encode() + b"\r\n"
    )
    assert json_pages(graph, f"getEmailActivityUserDetail(date={tenant.today})") == []


@pytest.mark.parametrize(
    "call",
    [
        "getMailboxUsageDetail(date=2026-11-15)",
        "getOffice365ActivationsUserDetail(period='D7')",
        "getOffice365ActiveUserDetail",
        "getOffice365ActiveUserDetail(period='D7',date=2026-11-15)",
        "getNoSuchReport(period='D7')",
    ],
)
def test_calls_matching_no_function_overload_are_unknown_segments(graph: Graph, call: str) -> None:
    response = graph.get(f"/v1.0/reports/{call}")
    assert response.status_code == 400
    assert error(response)["code"] == "BadRequest"
    assert error(response)["message"].startswith("Resource not found for the segment 'get")


@pytest.mark.parametrize(
    "call",
    [
        "getEmailActivityUserDetail(period='D14')",
        "getEmailActivityUserDetail(period=D7)",
        "getEmailActivityUserDetail(date=2026-13-01)",
        "getEmailActivityUserDetail(date=yesterday)",
    ],
)
def test_bad_parameter_values_are_400(graph: Graph, call: str) -> None:
    response = graph.get(f"/v1.0/reports/{call}")
    assert response.status_code == 400
    assert error(response)["code"] == "BadRequest"


def test_activations_take_no_parameters_with_or_without_parentheses(graph: Graph) -> None:
    assert report(graph, "getOffice365ActivationsUserDetail()") == report(
        graph, "getOffice365ActivationsUserDetail"
    )


# -- throttling ------------------------------------------------------------------------------


def test_fifteenth_csv_call_to_one_report_is_throttled(graph: Graph) -> None:
    url = "/v1.0/reports/getOffice365ActiveUserDetail(period='D7')"
    for _ in range(14):
        assert graph.get(url).status_code == 302
    throttled = graph.get(url)
    assert throttled.status_code == 429
    assert error(throttled)["code"] == "TooManyRequests"
    assert 0 < float(throttled.headers["retry-after"]) <= 600
    # The limit is per report API, and JSON requests have their own budget.
    assert graph.get("/v1.0/reports/getMailboxUsageDetail(period='D7')").status_code == 302
    json_call = graph.get(
        "/beta/reports/getOffice365ActiveUserDetail(period='D7')",
        params={"$format": "application/json"},
    )
    assert json_call.status_code == 200


def test_throttling_can_be_switched_off(graph: Graph, tenant: Tenant) -> None:
    tenant.options.report_throttle = False
    for _ in range(20):
        assert graph.get("/v1.0/reports/getMailboxUsageDetail(period='D7')").status_code == 302


# -- JSON ------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_beta_json_property_names_are_exact(graph: Graph, call: str) -> None:
    response = graph.get(f"/beta/reports/{call}", params={"$format": "application/json"})
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].startswith("https://127.0.0.1/beta/$metadata#Collection(")
    items = body["value"]
    assert items and all(set(item) == set(JSON_NAMES[call].split()) for item in items)
    first = items[0]
    if "details" in first:
        detail = first["details"][0]
        assert set(detail) == set(_M365_DETAIL.split())
        assert detail["reportPeriod"] == 7  # an integer in this report only
    elif "userActivationCounts" in first:
        assert set(first["userActivationCounts"][0]) == ACTIVATION_COUNT_NAMES
    elif "reportPeriod" in first:
        assert first["reportPeriod"] == "7"
    if "assignedProducts" in first:
        assert isinstance(first["assignedProducts"], list)


@pytest.mark.parametrize("call", CALLS)
def test_json_paging_follows_next_links_to_the_same_rows_as_csv(graph: Graph, call: str) -> None:
    tenant = graph.tenant
    tenant.options.report_throttle = False
    items = json_pages(graph, call, **{"$top": "7"})
    rows = report(graph, call)
    key = "ownerPrincipalName" if "OneDrive" in call else "userPrincipalName"
    csv_key = "Owner Principal Name" if "OneDrive" in call else "User Principal Name"
    assert [i[key] for i in items] == list(dict.fromkeys(r[csv_key] for r in rows))
    first = graph.get(f"/beta/reports/{call}", params={"$format": "application/json"}).json()
    assert len(first["value"]) <= 200


def test_v1_m365_app_usage_accepts_json(graph: Graph) -> None:
    response = graph.get(
        "/v1.0/reports/getM365AppUserDetail(period='D30')", params={"$format": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["value"][0]["details"][0]["reportPeriod"] == 30


def test_bad_top_and_skiptoken_are_400(graph: Graph) -> None:
    url = "/beta/reports/getMailboxUsageDetail(period='D7')"
    bad_top = graph.get(url, params={"$format": "application/json", "$top": "zero"})
    assert bad_top.status_code == 400
    bad_token = graph.get(url, params={"$format": "application/json", "$skiptoken": "x"})
    assert bad_token.status_code == 400


# -- content ---------------------------------------------------------------------------------


def test_concealed_names_are_32_hex_and_match_no_user(tenant: Tenant) -> None:
    concealed = Graph(make_tenant(concealed_names=True))
    upns = {u.upn.lower() for u in tenant.users}
    with concealed.client:
        for call in CALLS:
            for row in report(concealed, call):
                for column in (
                    "User Principal Name",
                    "Display Name",
                    "Owner Display Name",
                    "Owner Principal Name",
                ):
                    if column in row:
                        assert HEX32.match(row[column]), (call, column, row[column])
                        assert row[column].lower() not in upns
                if "Site URL" in row:
                    assert row["Site URL"] == ""
        items = json_pages(concealed, "getEmailActivityUserDetail(period='D7')")
        rows = report(concealed, "getEmailActivityUserDetail(period='D7')")
        assert [i["userPrincipalName"] for i in items] == [r["User Principal Name"] for r in rows]


def test_exchange_last_activity_agrees_across_reports(graph: Graph, tenant: Tenant) -> None:
    active = {r["User Principal Name"]: r for r in report(graph, CALLS[0])}
    mailbox = {r["User Principal Name"]: r for r in report(graph, CALLS[4])}
    email = {r["User Principal Name"]: r for r in report(graph, CALLS[5])}
    licensed = [u for u in active.values() if u["Has Exchange License"] == "True"]
    assert len(licensed) > 30
    for row in licensed:
        upn = row["User Principal Name"]
        assert row["Exchange Last Activity Date"] == mailbox[upn]["Last Activity Date"]
        assert row["Exchange Last Activity Date"] == email[upn]["Last Activity Date"]
    assert set(email) == {u["User Principal Name"] for u in licensed}
    assert any(r["Last Activity Date"] for r in email.values())


def test_licence_columns_follow_the_tenant(graph: Graph, tenant: Tenant) -> None:
    rows = {r["User Principal Name"]: r for r in report(graph, CALLS[0])}
    for user in [*tenant.users, *tenant.deleted_users]:
        row = rows.get(user.upn)
        if not user.licenses:
            assert row is None
            continue
        assert row is not None
        exchange = tenant.licensed_for(user, "exchange")
        assert row["Has Exchange License"] == str(exchange is not None)
        assert row["Exchange License Assign Date"] == (exchange.isoformat() if exchange else "")
        names = [catalog.skus()[s].product_name.upper() for s in user.sku_ids()]
        assert row["Assigned Products"] == "+".join(names)
        assert row["Is Deleted"] == str(user.deleted is not None)
        if user.deleted:
            assert row["Deleted Date"] == user.deleted.date().isoformat()


def test_fast_licence_lookup_equals_licensed_for(tenant: Tenant) -> None:
    facts = Facts(tenant, tenant.refresh_date)
    for user in [*tenant.users, *tenant.deleted_users]:
        for workload in catalog.WORKLOAD_PLANS:
            assert facts.licences(user).get(workload) == tenant.licensed_for(user, workload)
        for service in ("exchange", "onedrive", "teams", "officeapps"):
            assert facts.last(user, service) == tenant.last_active(user, service)


def test_app_usage_flags_are_consistent(graph: Graph) -> None:
    rows = report(graph, "getM365AppUserDetail(period='D30')")
    apps = ("Outlook", "Word", "Excel", "PowerPoint", "OneNote", "Teams")
    assert any(r["Windows"] == "Yes" for r in rows)
    for row in rows:
        flags = {k: v for k, v in row.items() if k not in list(row)[:5]}
        assert set(flags.values()) <= {"Yes", "No"}
        for platform in ("Windows", "Mac", "Mobile", "Web"):
            used = [row[f"{a} ({platform})"] == "Yes" for a in apps]
            assert (row[platform] == "Yes") == any(used)
        for app in apps:
            per_platform = [
                row[f"{app} ({p})"] == "Yes" for p in ("Windows", "Mac", "Mobile", "Web")
            ]
            assert (row[app] == "Yes") == any(per_platform)


def test_activation_rows_are_coherent(graph: Graph) -> None:
    rows = report(graph, "getOffice365ActivationsUserDetail")
    products = {r["Product Type"] for r in rows}
    assert "MICROSOFT 365 APPS FOR ENTERPRISE" in products
    for row in rows:
        counts = [int(row[c]) for c in ("Windows", "Mac", "Windows 10 Mobile", "iOS", "Android")]
        assert (row["Last Activated Date"] == "") == (sum(counts) == 0)
        assert row["Activated On Shared Computer"] in ("True", "False")


def test_onedrive_and_mailbox_figures_are_plausible(graph: Graph, tenant: Tenant) -> None:
    for row in report(graph, "getOneDriveUsageAccountDetail(period='D30')"):
        assert int(row["Active File Count"]) <= int(row["File Count"])
        assert row["Storage Allocated (Byte)"] == "1099511627776"
        slug = row["Owner Principal Name"].lower().replace(".", "_").replace("@", "_")
        assert row["Site URL"] == f"https://{tenant.tenant_name}-my.sharepoint.com/personal/{slug}"
    mailboxes = report(graph, "getMailboxUsageDetail(period='D30')")
    for row in mailboxes:
        warn, send, full = (
            int(row[c])
            for c in (
                "Issue Warning Quota (Byte)",
                "Prohibit Send Quota (Byte)",
                "Prohibit Send/Receive Quota (Byte)",
            )
        )
        assert warn < send < full
        assert int(row["Storage Used (Byte)"]) < send
        assert row["Report Period"] == "30"


def test_same_seed_and_now_give_byte_identical_csv() -> None:
    first, second = Graph(make_tenant()), Graph(make_tenant())
    with first.client, second.client:
        for call in CALLS:
            assert fetch_csv(first, call) == fetch_csv(second, call)


def test_unlicensed_shared_and_room_mailboxes_are_in_the_mailbox_report() -> None:
    bigger = Graph(make_tenant(users=300))
    accounts = {u.upn for u in bigger.tenant.users if u.kind in ("shared", "room")}
    unlicensed = {
        u.upn for u in bigger.tenant.users if u.kind in ("shared", "room") and not u.licenses
    }
    assert accounts and unlicensed
    with bigger.client:
        mailboxes = {
            r["User Principal Name"] for r in report(bigger, "getMailboxUsageDetail(period='D7')")
        }
        email = {
            r["User Principal Name"]
            for r in report(bigger, "getEmailActivityUserDetail(period='D7')")
        }
    assert accounts <= mailboxes
    assert not unlicensed & email


def test_the_reports_a_sync_reads_are_ready_before_anyone_asks(graph: Graph) -> None:
    state = graph.app.state.sim.reports
    ready = {key[0]: rendered for key, rendered in state.reports.items()}
    assert set(ready) == {name for name, _ in reports.READY}
    assert all(rendered.csv for rendered in ready.values())
    # asking for one answers from what was built: the same file
    location = graph.get("/v1.0/reports/getMailboxUsageDetail(period='D90')").headers["location"]
    body = plain_client(graph).get(location).content
    assert body == ready["getMailboxUsageDetail"].csv
    # the next simulated day's are made ready when the clock moves
    before = ready["getOffice365ActiveUserDetail"].csv
    assert graph.post("/_control/clock", json={"advance_days": 1}).status_code == 200
    moved = {key[0]: r.csv for key, r in state.reports.items()}
    assert set(moved) == set(ready) and moved["getOffice365ActiveUserDetail"] != before
