"""How a simulated user looks in Graph JSON: every property name and shape of `microsoft.graph.user`
that seatwise and common admin scripts read, and the facts `$filter` evaluates.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from seatwise.simulator import activity, catalog
from seatwise.simulator.model import User
from seatwise.simulator.tenant import Tenant

DEFAULT_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
# Properties Graph only returns for a single user; selecting them on a collection is a 501.
SINGLE_USER_ONLY = frozenset(
    {
        "aboutMe",
        "birthday",
        "hireDate",
        "interests",
        "mySite",
        "pastProjects",
        "preferredName",
        "responsibilities",
        "schools",
        "skills",
        "mailboxSettings",
    }
)
NEVER = "0001-01-01T00:00:00Z"


def iso(moment: datetime | None) -> str | None:
    """DateTimeOffset as Graph writes it: UTC with a trailing Z, no fraction."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _request_id(tenant: Tenant, user: User, salt: int) -> str:
    h = activity.mix(tenant.seed * 7919 + user.index * 31 + salt)
    low = activity.mix(h)
    return str(uuid.UUID(int=(h << 64) | low, version=4))


def warm(tenant: Tenant) -> None:
    """Build the tenant's sign-in log and every user's `signInActivity` and `$filter` facts
    now rather than on the first request that needs them (after start-up, a churn round or a
    change of time)."""
    tenant.warm()
    for user in tenant.users:
        facts(tenant, user)  # signInActivity included


def sign_in_activity(tenant: Tenant, user: User) -> dict[str, Any] | None:
    """The `signInActivity` complex value (P1 tenants only), remembered per user until the
    user signs in, changes or time moves (`Tenant.sign_in_cache`)."""
    key = (tenant.now, tenant.signed_in_now.get(user.id))
    cached = tenant.sign_in_cache.get(user.index)
    if cached is not None and cached[0] == key:
        return cached[1]  # type: ignore[return-value]
    value = _sign_in_activity(tenant, user)
    tenant.sign_in_cache[user.index] = (key, value)
    return value


def _sign_in_parsed(tenant: Tenant, user: User) -> dict[str, datetime]:
    """The DateTime values of `signInActivity`, parsed, for `$filter`."""
    value = sign_in_activity(tenant, user) or {}
    return {
        k: datetime.fromisoformat(v.replace("Z", "+00:00"))
        for k, v in value.items()
        if k.endswith("DateTime") and v
    }


def _sign_in_activity(tenant: Tenant, user: User) -> dict[str, Any] | None:
    last = tenant.last_sign_in(user)
    if last is None:
        if user.index % 2:
            return None
        return {
            "lastSignInDateTime": NEVER,
            "lastSignInRequestId": "",
            "lastNonInteractiveSignInDateTime": NEVER,
            "lastNonInteractiveSignInRequestId": "",
            "lastSuccessfulSignInDateTime": None,
            "lastSuccessfulSignInRequestId": None,
        }
    if tenant.signed_in_now.get(user.id) != last:  # derived sign-ins show up 5 minutes late
        last = min(last, tenant.now - timedelta(minutes=5))
    non_interactive = min(last + timedelta(hours=2), tenant.now - timedelta(minutes=1))
    successful = max(last, non_interactive)
    return {
        "lastSignInDateTime": iso(last),
        "lastSignInRequestId": _request_id(tenant, user, 1),
        "lastNonInteractiveSignInDateTime": iso(non_interactive),
        "lastNonInteractiveSignInRequestId": _request_id(tenant, user, 2),
        "lastSuccessfulSignInDateTime": iso(successful),
        "lastSuccessfulSignInRequestId": _request_id(tenant, user, 2 if successful > last else 1),
    }


def _assigned_licenses(_: Tenant, user: User) -> list[dict[str, Any]]:
    merged: dict[str, list[str]] = {}
    for state in user.licenses:
        plans = merged.setdefault(state.sku_id, list(state.disabled_plans))
        if state.assigned_by_group is None or not plans:
            # a SKU held both ways disables only what every assignment disables
            merged[state.sku_id] = [p for p in plans if p in state.disabled_plans]
    return [{"disabledPlans": plans, "skuId": sku_id} for sku_id, plans in merged.items()]


def _assignment_states(_: Tenant, user: User) -> list[dict[str, Any]]:
    return [
        {
            "assignedByGroup": s.assigned_by_group,
            "disabledPlans": list(s.disabled_plans),
            "error": "None",
            "lastUpdatedDateTime": iso(s.last_updated),
            "skuId": s.sku_id,
            "state": "Active",
        }
        for s in user.licenses
    ]


def _assigned_plans(_: Tenant, user: User) -> list[dict[str, Any]]:
    plans: list[dict[str, Any]] = []
    for state in user.licenses:
        sku = catalog.skus()[state.sku_id]
        for plan in sku.plans:
            plans.append(
                {
                    "assignedDateTime": iso(state.last_updated),
                    "capabilityStatus": "Deleted" if plan.id in state.disabled_plans else "Enabled",
                    "service": plan.name,
                    "servicePlanId": plan.id,
                }
            )
    return plans


def _mail_nickname(_: Tenant, user: User) -> str:
    return user.upn.split("@")[0]


def _proxy_addresses(_: Tenant, user: User) -> list[str]:
    return [f"SMTP:{user.mail}"] if user.mail and user.user_type == "Member" else []


PROPERTIES: dict[str, Callable[[Tenant, User], Any]] = {
    "id": lambda t, u: u.id,
    "businessPhones": lambda t, u: [],
    "displayName": lambda t, u: u.display_name,
    "givenName": lambda t, u: u.given_name,
    "surname": lambda t, u: u.surname,
    "jobTitle": lambda t, u: u.job_title,
    "mail": lambda t, u: u.mail,
    "mobilePhone": lambda t, u: None,
    "officeLocation": lambda t, u: None,
    "preferredLanguage": lambda t, u: "en-US" if u.user_type == "Member" else None,
    "userPrincipalName": lambda t, u: u.upn,
    "accountEnabled": lambda t, u: u.account_enabled,
    "createdDateTime": lambda t, u: iso(u.created),
    "userType": lambda t, u: u.user_type,
    "country": lambda t, u: u.country,
    "department": lambda t, u: u.department,
    "usageLocation": lambda t, u: u.usage_location,
    "onPremisesSyncEnabled": lambda t, u: u.on_premises_sync,
    "deletedDateTime": lambda t, u: iso(u.deleted),
    "assignedLicenses": _assigned_licenses,
    "licenseAssignmentStates": _assignment_states,
    "assignedPlans": _assigned_plans,
    "signInActivity": sign_in_activity,
    "mailNickname": _mail_nickname,
    "proxyAddresses": _proxy_addresses,
    "companyName": lambda t, u: None,
    "city": lambda t, u: None,
    "state": lambda t, u: None,
    "externalUserState": lambda t, u: "Accepted" if u.user_type == "Guest" else None,
    "creationType": lambda t, u: "Invitation" if u.user_type == "Guest" else None,
}
KNOWN = {name.lower(): name for name in (*PROPERTIES, *SINGLE_USER_ONLY)}


def render(tenant: Tenant, user: User, select: tuple[str, ...]) -> dict[str, Any]:
    """The user as Graph returns it for this `$select` (property order follows the request)."""
    return {name: PROPERTIES[name](tenant, user) for name in select if name in PROPERTIES}


def render_bytes(tenant: Tenant, user: User, select: tuple[str, ...]) -> bytes:
    """`render` serialised with orjson, cached per `$select` until the tenant changes."""
    cache = tenant.render_cache
    if cache.version != tenant.version:
        cache.version = tenant.version
        cache.by_select.clear()
    entries = cache.by_select.setdefault(select, {})
    data = entries.get(user.index)
    if data is None:
        # orjson's result keeps its over-allocated buffer; an exact copy keeps 100k users at
        # ~85 MB instead of ~800 MB.
        data = entries[user.index] = bytes(memoryview(orjson.dumps(render(tenant, user, select))))
    return data


def facts(tenant: Tenant, user: User) -> dict[str, object]:
    """What `$filter` predicates read, remembered per user until the tenant changes or time
    moves (a filtered read scans every user); `signIn` holds the parsed signInActivity."""
    key = (tenant.version, tenant.now)
    cached = tenant.facts_cache.get(user.index)
    if cached is None or cached[0] != key:
        cached = tenant.facts_cache[user.index] = (key, _facts(tenant, user, True))
    row: dict[str, object] = cached[1]  # type: ignore[assignment]
    return row


def _facts(tenant: Tenant, user: User, sign_in: bool) -> dict[str, object]:
    row: dict[str, object] = {
        "id": user.id,
        "userPrincipalName": user.upn,
        "mail": user.mail,
        "displayName": user.display_name,
        "userType": user.user_type,
        "accountEnabled": user.account_enabled,
        "country": user.country,
        "department": user.department,
        "jobTitle": user.job_title,
        "usageLocation": user.usage_location,
        "onPremisesSyncEnabled": user.on_premises_sync,
        "givenName": user.given_name,
        "surname": user.surname,
        "skuIds": set(user.sku_ids()),
        "signIn": None,
    }
    if sign_in:
        row["signIn"] = _sign_in_parsed(tenant, user)
    return row
