"""Every Graph URL path, `$select` list, page size and API version seatwise uses, in one place.

Pure: builds paths (relative to the Graph base URL) and query parameters; sends nothing.
Field names and limits are those of graph-facts §1–§8.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final
from urllib.parse import quote

__all__ = [
    "ACTIVATIONS",
    "ACTIVE_USERS",
    "BATCH",
    "BATCH_MAX",
    "EMAIL_ACTIVITY",
    "M365_APPS",
    "MAILBOX_USAGE",
    "ONEDRIVE_USAGE",
    "HISTORY_PERIOD",
    "PERIOD_REPORTS",
    "ROSTER_REPORT_PERIODS",
    "REGISTRATION_DETAILS",
    "REPORTS",
    "REPORT_SETTINGS",
    "REPORT_VERSION",
    "SIGN_INS",
    "SIGN_INS_MAX_TOP",
    "SIGN_IN_ACTIVITY_FIELDS",
    "SIGN_IN_MAX_TOP",
    "SUBSCRIBED_SKUS",
    "USERS",
    "USERS_DELTA",
    "USERS_MAX_TOP",
    "USER_FIELDS",
    "Period",
    "assign_license_batch_url",
    "assign_license_body",
    "assign_license_path",
    "graph_datetime",
    "period_days",
    "registration_details_params",
    "report_path",
    "sign_ins_params",
    "subscribed_skus_params",
    "users_by_id_params",
    "users_delta_latest_params",
    "users_delta_params",
    "users_with_sign_in_params",
    "users_params",
    "users_sign_in_params",
    "users_signed_in_since_params",
]

V1: Final = "/v1.0"
BETA: Final = "/beta"

# -- users (graph-facts §1) ---------------------------------------------------------------------

USERS: Final = f"{V1}/users"
USERS_MAX_TOP: Final = 999  # $top=1000 is rejected
SIGN_IN_MAX_TOP: Final = 500  # with signInActivity: 120, then 999, now 500 (beta docs, 2025)

USER_FIELDS: Final = (
    "id",
    "userPrincipalName",
    "mail",
    "givenName",
    "surname",
    "displayName",
    "accountEnabled",
    "createdDateTime",
    "userType",
    "country",
    "usageLocation",
    "department",
    "jobTitle",
    "onPremisesSyncEnabled",
    "assignedLicenses",
    "licenseAssignmentStates",
)
# Asked for separately: it needs Entra ID P1 and AuditLog.Read.All, and pages are smaller.
SIGN_IN_ACTIVITY_FIELDS: Final = ("id", "signInActivity")


def users_params(top: int = USERS_MAX_TOP) -> dict[str, str]:
    """Query of `GET /v1.0/users` for the roster: every field of `USER_FIELDS`."""
    return {"$select": ",".join(USER_FIELDS), "$top": str(min(top, USERS_MAX_TOP))}


def users_sign_in_params(top: int = SIGN_IN_MAX_TOP) -> dict[str, str]:
    """Query of `GET /v1.0/users` for last sign-ins: id and `signInActivity` only."""
    return {"$select": ",".join(SIGN_IN_ACTIVITY_FIELDS), "$top": str(min(top, SIGN_IN_MAX_TOP))}


USERS_DELTA: Final = f"{V1}/users/delta"
# signInActivity's DateTime properties that `$filter` can compare (graph-facts §1).
SIGN_IN_FILTERABLE: Final = ("lastSignInDateTime", "lastNonInteractiveSignInDateTime")


def users_with_sign_in_params(top: int = SIGN_IN_MAX_TOP) -> dict[str, str]:
    """Query of `GET /v1.0/users` for every field of `USER_FIELDS` and `signInActivity` (Entra
    ID P1 and AuditLog.Read.All; smaller pages)."""
    return {
        "$select": ",".join((*USER_FIELDS, "signInActivity")),
        "$top": str(min(top, SIGN_IN_MAX_TOP)),
    }


def users_delta_latest_params() -> dict[str, str]:
    """Query of a `GET /v1.0/users/delta` that returns no users, only a delta link from now on
    ("sync from now", `$deltatoken=latest`), with the `$select` later rounds answer with."""
    return {**users_delta_params(), "$deltatoken": "latest"}


def users_delta_params() -> dict[str, str]:
    """Query of the first call of a `GET /v1.0/users/delta` round: every field of
    `USER_FIELDS` (signInActivity is not available in delta). Later calls follow the links."""
    return {"$select": ",".join(USER_FIELDS)}


def users_signed_in_since_params(
    since: datetime, field: str, top: int = SIGN_IN_MAX_TOP
) -> dict[str, str]:
    """Query of `GET /v1.0/users` for the users whose `signInActivity/{field}` is on or after
    `since` (a signInActivity filter can't be combined with other properties)."""
    if field not in SIGN_IN_FILTERABLE:
        raise ValueError(f"signInActivity/{field} is not filterable")
    return {
        "$filter": f"signInActivity/{field} ge {graph_datetime(since)}",
        **users_sign_in_params(top),
    }


IDS_PER_FILTER: Final = 15  # values of one `id in (...)` clause


def users_by_id_params(ids: Iterable[str], top: int = SIGN_IN_MAX_TOP) -> dict[str, str]:
    """Query of `GET /v1.0/users` for `id` and `signInActivity` of the users `ids`."""
    listed = ", ".join(f"'{user_id}'" for user_id in ids)
    if "'" in "".join(ids) or not listed:
        raise ValueError("ids must be object ids")
    return {"$filter": f"id in ({listed})", **users_sign_in_params(top)}


# -- subscribed SKUs (graph-facts §2) -----------------------------------------------------------

SUBSCRIBED_SKUS: Final = f"{V1}/subscribedSkus"


def subscribed_skus_params() -> dict[str, str]:
    """Query of `GET /v1.0/subscribedSkus` (only `$select` is supported; no `$filter`)."""
    return {}


# -- usage reports (graph-facts §3) -------------------------------------------------------------


class Period(StrEnum):
    """The reporting periods of the usage reports."""

    D7 = "D7"
    D30 = "D30"
    D90 = "D90"
    D180 = "D180"


ACTIVE_USERS: Final = "getOffice365ActiveUserDetail"
M365_APPS: Final = "getM365AppUserDetail"
ACTIVATIONS: Final = "getOffice365ActivationsUserDetail"  # takes no parameter at all
ONEDRIVE_USAGE: Final = "getOneDriveUsageAccountDetail"
MAILBOX_USAGE: Final = "getMailboxUsageDetail"
EMAIL_ACTIVITY: Final = "getEmailActivityUserDetail"
REPORTS: Final = (
    ACTIVE_USERS,
    M365_APPS,
    ACTIVATIONS,
    ONEDRIVE_USAGE,
    MAILBOX_USAGE,
    EMAIL_ACTIVITY,
)
PERIOD_REPORTS: Final = frozenset(REPORTS) - {ACTIVATIONS}
# The seed keeps 90 days of mail and OneDrive usage and of Windows / Mac / Mobile / Web: the
# Application Roster asks these reports for Graph's 90-day period (activations take none).
HISTORY_PERIOD: Final = Period.D90
ROSTER_REPORT_PERIODS: Final[dict[str, Period | None]] = {
    MAILBOX_USAGE: HISTORY_PERIOD,
    ONEDRIVE_USAGE: HISTORY_PERIOD,
    M365_APPS: HISTORY_PERIOD,
    ACTIVATIONS: None,
}


def period_days(period: Period | str) -> int:
    """The days a reporting period covers: `D90` → 90."""
    return int(Period(period).value[1:])


# DESIGN §3 reads the reports from beta (same CSV as v1.0; beta also offers JSON).
REPORT_VERSION: Final = BETA


def report_path(report: str, period: Period | str | None, version: str = REPORT_VERSION) -> str:
    """Path of a usage-report function, e.g. `/beta/reports/getMailboxUsageDetail(period='D7')`.

    `period` must be given for every report but `getOffice365ActivationsUserDetail`, which must
    have none. The answer is a 302 to the CSV (see `GraphClient.download_report`).
    """
    if report not in REPORTS:
        raise ValueError(f"unknown report {report!r}; known: {', '.join(REPORTS)}")
    if report == ACTIVATIONS:
        if period is not None:
            raise ValueError(f"{ACTIVATIONS} takes no period")
        return f"{version}/reports/{report}"
    if period is None:
        raise ValueError(f"{report} needs a period (D7, D30, D90 or D180)")
    return f"{version}/reports/{report}(period='{Period(period).value}')"


# -- sign-in logs and registration details (graph-facts §4, §5) ---------------------------------

SIGN_INS: Final = f"{V1}/auditLogs/signIns"
SIGN_INS_MAX_TOP: Final = 1000
REGISTRATION_DETAILS: Final = f"{V1}/reports/authenticationMethods/userRegistrationDetails"


def graph_datetime(moment: datetime) -> str:
    """A timezone-aware datetime as Graph's `$filter` wants it: UTC, `2026-05-01T00:00:00Z`."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous; give it a timezone")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_ins_params(since: datetime, app_id: str, top: int = SIGN_INS_MAX_TOP) -> dict[str, str]:
    """Query of `GET /v1.0/auditLogs/signIns`: one application's sign-ins since `since`."""
    if "'" in app_id:
        raise ValueError(f"not an application id: {app_id!r}")
    return {
        "$filter": f"createdDateTime ge {graph_datetime(since)} and appId eq '{app_id}'",
        "$top": str(min(top, SIGN_INS_MAX_TOP)),
    }


def registration_details_params() -> dict[str, str]:
    """Query of `GET /v1.0/reports/authenticationMethods/userRegistrationDetails` (all users)."""
    return {}


# -- report settings (graph-facts §3.3) ---------------------------------------------------------

REPORT_SETTINGS: Final = f"{V1}/admin/reportSettings"

# -- licence assignment and batching (graph-facts §6, §8) ---------------------------------------

BATCH: Final = f"{V1}/$batch"
BATCH_MAX: Final = 20


def assign_license_path(user_id: str) -> str:
    """Path of `POST /v1.0/users/{id}/assignLicense`."""
    return f"{V1}{assign_license_batch_url(user_id)}"


def assign_license_batch_url(user_id: str) -> str:
    """`assignLicense` as a `$batch` item URL (relative to the version)."""
    return f"/users/{quote(user_id, safe='')}/assignLicense"


def assign_license_body(add: Iterable[Mapping[str, Any]], remove: Iterable[str]) -> dict[str, Any]:
    """The `assignLicense` body: both keys always present and `disabledPlans` always a list.

    `add` items are `{"skuId": ..., "disabledPlans": [...]}` (disabledPlans may be left out).
    """
    licences = [
        {"disabledPlans": list(item.get("disabledPlans") or []), "skuId": item["skuId"]}
        for item in add
    ]
    return {"addLicenses": licences, "removeLicenses": list(remove)}
