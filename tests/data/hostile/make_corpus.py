"""Writes the hostile-input corpus: one payload file per case under cases/ and manifest.json,
which says where the simulator serves each payload (`/_control/respond`), which task reads it
and how that task must end. Run it again after changing a case:

    python tests/data/hostile/make_corpus.py

Placeholders in payloads, filled in by the test: {base} (the simulator's URL), {user0} and
{user1} (ids of users already stored, whose rows must survive), {upn0} (the first one's UPN).
"""

from __future__ import annotations

import codecs
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
DELTA = "/v1.0/users/delta"
SKUS = "/v1.0/subscribedSkus"
MAILBOX = "/beta/reports/getMailboxUsageDetail*"
SIGN_INS = "/v1.0/users"
MFA = "/v1.0/reports/authenticationMethods/userRegistrationDetails"
EVENTS = "/v1.0/auditLogs/signIns"
NEW = "f0000000-0000-4000-8000-0000000000{:02d}"
DELTA_LINK = "{base}/v1.0/users/delta?$deltatoken=hostile"
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
MAILBOX_HEADER = (
    "Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,Created Date,"
    "Last Activity Date,Item Count,Storage Used (Byte),Issue Warning Quota (Byte),"
    "Prohibit Send Quota (Byte),Prohibit Send/Receive Quota (Byte),Deleted Item Count,"
    "Deleted Item Size (Byte),Deleted Item Quota (Byte),Has Archive,Report Period"
)
MAILBOX_ROW = (
    "2026-11-18,{upn0},Someone,False,,2020-01-01,2026-11-17,10,1048576,1,2,3,0,0,1,False,90"
)

cases: list[dict[str, Any]] = []


def case(
    name: str,
    task: str,
    path: str,
    payload: bytes | str | Any,
    outcome: str,
    expect: str,
    *,
    suffix: str = "json",
    content_type: str = "application/json",
    status: int = 200,
    stored: dict[str, str] | None = None,
) -> None:
    """One case: `expect` is a piece of the run's error (failed) or notes (succeeded; "" for
    none); `stored` an id → display name the run must store exactly as sent."""
    if isinstance(payload, str):
        data = payload.encode()
    elif isinstance(payload, bytes):
        data = payload
    else:
        data = json.dumps(payload, ensure_ascii=False).encode()
    file = f"{len(cases) + 1:03d}-{name}.{suffix}"
    (CASES / file).write_bytes(data)
    cases.append(
        {
            "name": name,
            "task": task,
            "path": path,
            "file": file,
            "content_type": content_type,
            "status": status,
            "outcome": outcome,
            "expect": expect,
            **({"stored": stored} if stored else {}),
        }
    )


def user(n: int, **fields: Any) -> dict[str, Any]:
    base = {
        "id": NEW.format(n),
        "userPrincipalName": f"hostile{n}@example.onmicrosoft.com",
        "displayName": f"Hostile {n}",
        "accountEnabled": True,
        "assignedLicenses": [],
    }
    base.update(fields)
    return base


def page(*items: Any, **extra: Any) -> dict[str, Any]:
    return {"value": list(items), "@odata.deltaLink": DELTA_LINK, **extra}


def skipped(name: str, bad: dict[str, Any], expect: str, n: int) -> None:
    """A delta page with one bad user (an already stored one when it has an id) and one
    good new user: the bad one is left out, the good one stored."""
    case(
        name,
        "roster",
        DELTA,
        page(bad, user(n)),
        "succeeded",
        expect,
        stored={NEW.format(n): f"Hostile {n}"},
    )


def build() -> None:
    CASES.mkdir(exist_ok=True)
    for old in CASES.iterdir():
        old.unlink()
    # -- /users/delta: the payload as a whole ---------------------------------------------
    whole = json.dumps(page(user(1)))
    case("delta-truncated", "roster", DELTA, whole[: len(whole) // 2], "failed", "not JSON")
    case("delta-garbage", "roster", DELTA, "{value: [oops", "failed", "not JSON")
    case("delta-empty-body", "roster", DELTA, b"", "failed", "without a list of values")
    case("delta-array", "roster", DELTA, [user(1)], "failed", "not an object")
    case("delta-value-object", "roster", DELTA, {"value": user(1)}, "failed", "list of values")
    case("delta-value-null", "roster", DELTA, {"value": None}, "failed", "list of values")
    case(
        "delta-html",
        "roster",
        DELTA,
        "<html><body>Sign in</body></html>",
        "failed",
        "not JSON",
        content_type="text/html",
    )
    case("delta-not-utf8", "roster", DELTA, b'{"value": ["\xff\xfe"]}', "failed", "not JSON")
    case("delta-deep-nesting", "roster", DELTA, "[" * 3000 + "]" * 3000, "failed", "not JSON")
    case(
        "delta-no-delta-link",
        "roster",
        DELTA,
        {"value": [user(2)]},
        "failed",
        "without a delta link",
    )
    case(
        "delta-foreign-delta-link",
        "roster",
        DELTA,
        {"value": [], "@odata.deltaLink": "https://evil.example/v1.0/users/delta?x=1"},
        "failed",
        "another host",
    )
    case(
        "delta-foreign-next-link",
        "roster",
        DELTA,
        {"value": [], "@odata.nextLink": "https://evil.example/v1.0/users/delta?x=2"},
        "failed",
        "another host",
    )
    case(
        "delta-server-error",
        "roster",
        DELTA,
        {"error": {"code": "generalException", "message": "boom"}},
        "failed",
        "500",
        status=500,
    )
    # A 400 to the stored delta link means Graph refused it: a full round follows.
    case(
        "delta-bad-request",
        "roster",
        DELTA,
        {"error": {"code": "BadRequest", "message": "Invalid request"}},
        "succeeded",
        "read again in a full round",
        status=400,
    )
    # -- /users/delta: one bad object among good ones -----------------------------------------
    skipped(
        "display-name-object",
        {"id": "{user0}", "displayName": {"first": "A"}},
        "displayName is not text",
        3,
    )
    skipped(
        "display-name-list",
        {"id": "{user0}", "displayName": ["A", "B"]},
        "displayName is not text",
        4,
    )
    skipped(
        "display-name-number", {"id": "{user0}", "displayName": 42}, "displayName is not text", 5
    )
    skipped(
        "account-enabled-maybe",
        {"id": "{user0}", "accountEnabled": "maybe"},
        "accountEnabled is not true or false",
        6,
    )
    skipped(
        "account-enabled-number",
        {"id": "{user1}", "accountEnabled": 1},
        "accountEnabled is not true or false",
        7,
    )
    skipped("id-null", {"id": None, "displayName": "No id"}, "id is missing", 8)
    skipped("id-absent", {"displayName": "No id"}, "id is missing", 9)
    skipped("id-number", {"id": 12345, "displayName": "Number id"}, "id is not an object id", 10)
    skipped("id-object", {"id": {"x": 1}}, "id is not an object id", 11)
    skipped("id-oversize", {"id": "a" * 300}, "id is not an object id", 12)
    skipped("id-markup", {"id": "<script>alert(1)</script>"}, "id is not an object id", 13)
    skipped("id-sql", {"id": "1' OR '1'='1"}, "id is not an object id", 14)
    skipped(
        "upn-oversize",
        {"id": "{user0}", "userPrincipalName": "x" * 5000 + "@example.com"},
        "userPrincipalName is longer than",
        15,
    )
    skipped(
        "display-name-oversize",
        {"id": "{user1}", "displayName": "N" * 3000},
        "displayName is longer than",
        16,
    )
    skipped("given-name-bool", {"id": "{user0}", "givenName": True}, "givenName is not text", 17)
    skipped(
        "created-number",
        {"id": "{user0}", "createdDateTime": 20200101},
        "createdDateTime is not text",
        18,
    )
    skipped(
        "display-name-nul",
        {"id": "{user0}", "displayName": "A\u0000B"},
        "contains a NUL character",
        19,
    )
    skipped(
        "licenses-object",
        {"id": "{user0}", "assignedLicenses": {"skuId": E3}},
        "assignedLicenses is not a list",
        20,
    )
    skipped(
        "licenses-null-sku",
        {"id": "{user0}", "assignedLicenses": [{"skuId": None}]},
        "assignedLicenses.skuId is missing",
        21,
    )
    skipped(
        "licenses-plans-text",
        {"id": "{user0}", "assignedLicenses": [{"skuId": E3, "disabledPlans": "all"}]},
        "disabledPlans is not a list of ids",
        22,
    )
    skipped(
        "license-state-unknown",
        {"id": "{user0}", "licenseAssignmentStates": [{"skuId": E3, "state": "Bogus"}]},
        "state is not a known licence state",
        23,
    )
    skipped(
        "license-states-strings",
        {"id": "{user0}", "licenseAssignmentStates": ["E3"]},
        "holds something not an object",
        24,
    )
    skipped(
        "removed-reason-unknown",
        {"id": "{user0}", "@removed": {"reason": "vanished"}},
        "@removed.reason is neither changed nor deleted",
        25,
    )
    skipped(
        "removed-not-object",
        {"id": "{user1}", "@removed": "deleted"},
        "@removed is not an object",
        26,
    )
    skipped("item-string", "just text", "the object is not a JSON object", 27)
    skipped("item-null", None, "the object is not a JSON object", 28)
    skipped("item-list", [1, 2], "the object is not a JSON object", 29)
    case(  # Graph may list a user twice in a round: the last listing is the user's state
        "duplicate-ids",
        "roster",
        DELTA,
        page(user(30), user(30, displayName="Second copy")),
        "succeeded",
        "",
        stored={NEW.format(30): "Second copy"},
    )
    # -- /users/delta: hostile but valid values are stored exactly as sent ---------------------
    for n, (name, text) in enumerate(
        [
            ("markup-name", "<script>alert('x')</script><img src=x onerror=alert(1)>"),
            ("sql-name", "Robert'); DROP TABLE user; --"),
            ("sql-union-name", "x' UNION SELECT password_hash FROM account --"),
            ("formula-name", '=HYPERLINK("http://evil.example","click")'),
            ("full-width-formula", "\uff1dcmd|' /C calc'!A0"),
            ("rtl-zero-width", "\u202eevil\u200b\u200dname\ufeff"),
            ("emoji-combining", "Zo\u0308e \U0001f600\U0001f469\u200d\U0001f4bb"),
            ("newline-name", "line one\r\nline two"),
            ("odata-name", "a' or 1 eq 1 or displayName eq 'b"),
        ],
        start=31,
    ):
        case(
            name,
            "roster",
            DELTA,
            page(user(n, displayName=text)),
            "succeeded",
            "",
            stored={NEW.format(n): text},
        )
    # -- subscribedSkus: a bad SKU fails License Information, nothing changes ------------------
    good_sku = {
        "skuId": E3,
        "skuPartNumber": "ENTERPRISEPACK",
        "appliesTo": "User",
        "capabilityStatus": "Enabled",
        "consumedUnits": 1,
        "prepaidUnits": {"enabled": 5, "suspended": 0, "warning": 0, "lockedOut": 0},
        "servicePlans": [],
    }
    for name, change, expect in [
        ("sku-units-text", {"prepaidUnits": {"enabled": "many"}}, "prepaidUnits.enabled"),
        ("sku-units-float", {"prepaidUnits": {"enabled": 2.5}}, "prepaidUnits.enabled"),
        ("sku-consumed-negative", {"consumedUnits": -4}, "consumedUnits"),
        ("sku-id-null", {"skuId": None}, "skuId is missing"),
        ("sku-id-markup", {"skuId": "<b>x</b>"}, "skuId is not an object id"),
        ("sku-status-unknown", {"capabilityStatus": "Weird"}, "capabilityStatus"),
        ("sku-plans-object", {"servicePlans": {"a": 1}}, "servicePlans is not a list"),
        ("sku-plan-id-number", {"servicePlans": [{"servicePlanId": 7}]}, "servicePlanId"),
        ("sku-part-number-object", {"skuPartNumber": {"x": 1}}, "skuPartNumber is not text"),
    ]:
        case(name, "license-info", SKUS, {"value": [{**good_sku, **change}]}, "failed", expect)
    case("sku-duplicate", "license-info", SKUS, {"value": [good_sku, good_sku]}, "failed", "twice")
    case(
        "sku-value-object",
        "license-info",
        SKUS,
        {"value": good_sku},
        "failed",
        "without a list of SKUs",
    )
    case(
        "sku-truncated",
        "license-info",
        SKUS,
        json.dumps({"value": [good_sku]})[:40],
        "failed",
        "not JSON",
    )
    # -- the mailbox usage report (roster) -----------------------------------------------------
    row = MAILBOX_ROW
    csv_ok = f"{MAILBOX_HEADER}\r\n{row}\r\n"
    bom = codecs.BOM_UTF8

    def report(name: str, data: bytes, outcome: str, expect: str) -> None:
        case(
            name,
            "roster",
            MAILBOX,
            data,
            outcome,
            expect,
            suffix="csv",
            content_type="application/octet-stream",
        )

    report("csv-with-bom", bom + csv_ok.encode(), "succeeded", "")
    report("csv-without-bom", csv_ok.encode(), "succeeded", "")
    report("csv-double-bom", bom + bom + csv_ok.encode(), "succeeded", "")
    report("csv-header-only", f"{MAILBOX_HEADER}\r\n".encode(), "succeeded", "")
    report("csv-lf-endings", csv_ok.replace("\r\n", "\n").encode(), "succeeded", "")
    columns = MAILBOX_HEADER.split(",")
    cells = row.split(",")
    order = list(reversed(range(len(columns))))
    report(
        "csv-reordered-columns",
        (
            ",".join(columns[i] for i in order)
            + "\r\n"
            + ",".join(cells[i] for i in order)
            + "\r\n"
        ).encode(),
        "succeeded",
        "",
    )
    report(
        "csv-extra-columns",
        (MAILBOX_HEADER + ",Surprise,=cmd\r\n" + row + ",x,y\r\n").encode(),
        "succeeded",
        "",
    )
    without_upn = [i for i, c in enumerate(columns) if c != "User Principal Name"]
    report(
        "csv-missing-user-column",
        (
            ",".join(columns[i] for i in without_upn)
            + "\r\n"
            + ",".join(cells[i] for i in without_upn)
            + "\r\n"
        ).encode(),
        "failed",
        "has no 'User Principal Name' column",
    )
    report(
        "csv-missing-refresh-column",
        (",".join(columns[1:]) + "\r\n" + ",".join(cells[1:]) + "\r\n").encode(),
        "failed",
        "has no 'Report Refresh Date' column",
    )
    without_storage = [i for i, c in enumerate(columns) if c != "Storage Used (Byte)"]
    report(
        "csv-missing-storage-column",
        (
            ",".join(columns[i] for i in without_storage)
            + "\r\n"
            + ",".join(cells[i] for i in without_storage)
            + "\r\n"
        ).encode(),
        "succeeded",
        "has no 'Storage Used (Byte)' column",
    )
    report("csv-wrong-header", b"Name,Value\r\nx,1\r\n", "failed", "has no 'Report Refresh Date'")
    report("csv-empty-file", b"", "failed", "has no 'Report Refresh Date'")
    report("csv-cut-row", (csv_ok + row[:30]).encode(), "succeeded", "cut short")
    report(
        "csv-cut-mid-quote",
        (csv_ok + '2026-11-18,"unterminated').encode(),
        "failed",
        "not valid CSV",
    )
    report(
        "csv-latin1",
        csv_ok.replace("Someone", "J\xfcrgen").encode("latin-1"),
        "failed",
        "not UTF-8",
    )
    report(
        "csv-no-refresh-dates",
        csv_ok.replace("2026-11-18,", ",", 1).encode(),
        "succeeded",
        "no readable Report Refresh Date",
    )
    report(
        "csv-formula-cells",
        csv_ok.replace("Someone", "=cmd|'/C calc'!A0").encode(),
        "succeeded",
        "",
    )
    report(
        "csv-sql-upn", csv_ok.replace("{upn0}", "x'; DROP TABLE user; --").encode(), "succeeded", ""
    )
    report("csv-oversize-cell", csv_ok.replace("Someone", "S" * 20_000).encode(), "succeeded", "")
    report("csv-nul-byte", csv_ok.replace("Someone", "Some\x00one").encode(), "failed", "NUL")
    # -- sign-in activity, MFA registration, sign-in events ---------------------------------
    case(
        "sign-in-activity-text",
        "roster",
        SIGN_INS,
        {"value": [{"id": "{user0}", "signInActivity": "yesterday"}]},
        "succeeded",
        "signInActivity is not an object",
    )
    case(
        "sign-in-date-number",
        "roster",
        SIGN_INS,
        {"value": [{"id": "{user0}", "signInActivity": {"lastSignInDateTime": 5}}]},
        "succeeded",
        "lastSignInDateTime is not text",
    )
    case(
        "mfa-registered-yes",
        "roster",
        MFA,
        {"value": [{"id": "{user0}", "isMfaRegistered": "yes"}]},
        "succeeded",
        "isMfaRegistered is not true or false",
    )
    case(
        "mfa-methods-object",
        "roster",
        MFA,
        {"value": [{"id": "{user0}", "methodsRegistered": {"a": 1}}]},
        "succeeded",
        "methodsRegistered is not a list of text",
    )
    case(
        "sign-in-event-null-user",
        "access",
        EVENTS,
        {"value": [{"userId": None, "createdDateTime": "2026-11-19T10:00:00Z"}]},
        "succeeded",
        "userId is missing",
    )
    case(
        "sign-in-event-string",
        "access",
        EVENTS,
        {"value": ["event"]},
        "succeeded",
        "the object is not a JSON object",
    )
    (HERE / "manifest.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    build()
    sys.stdout.write(f"{len(cases)} cases\n")
