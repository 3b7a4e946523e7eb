"""Pure mapping from Graph JSON and report CSV rows to store rows. No I/O, no clock.

Graph field renames touch `graph/endpoints.py` and this module, nothing else.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import orjson

from seatwise.skus import product_name

Row = dict[str, Any]
NEVER = "0001-01-01T00:00:00Z"
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


def parse_datetime(value: object) -> datetime | None:
    """A Graph DateTimeOffset (or None, "" and the 0001-01-01 'never' sentinel → None)."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    try:
        moment = datetime.fromisoformat(value)  # Python 3.11 reads "Z" and 7-digit fractions
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_date(value: object) -> date | None:
    """A report date `YYYY-MM-DD` (empty → None; malformed → None)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def parse_bool(value: object) -> bool | None:
    """Report booleans: `True`/`False`, `Yes`/`No` (any case); anything else → None."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def parse_int(value: object) -> int | None:
    """Report integers (empty or malformed → None)."""
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


# Report cells repeat a few hundred dates and two flags across 100k rows: parse each text once.
report_date = functools.lru_cache(maxsize=8192)(parse_date)
report_bool = functools.lru_cache(maxsize=256)(parse_bool)


def bytes_to_mb(value: object) -> float | None:
    """`Storage Used (Byte)` → MB (2 decimals)."""
    amount = parse_int(value)
    return None if amount is None else round(amount / (1024 * 1024), 2)


def fingerprint(values: Mapping[str, Any]) -> str:
    """A short stable hash of a row's facts, so unchanged rows are recognised without reading."""
    blob = orjson.dumps(values, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(blob, digest_size=12).hexdigest()


# The `user` columns a `/users` item gives, in the order of `user_values`.
USER_COLUMNS = (
    "tenant_pk",
    "id",
    "upn",
    "mail",
    "given_name",
    "surname",
    "display_name",
    "account_enabled",
    "user_type",
    "created_at",
    "country",
    "usage_location",
    "department",
    "job_title",
    "on_premises_sync",
    "first_seen",
    "deleted_at",
    "fingerprint",
)
# The `license_assignment` columns, in the order of `assignment_values`.
ASSIGNMENT_COLUMNS = (
    "tenant_pk",
    "user_id",
    "sku_id",
    "via",
    "disabled_plans",
    "state",
    "error",
    "last_updated",
)


def user_values(tenant_pk: int, item: Mapping[str, Any], today: date) -> tuple[Any, ...]:
    """A `/users` item → a `user` row as values in `USER_COLUMNS` order (sign-in and MFA
    columns are written by their own steps). Tuples, not dicts: the roster builds 100k."""
    get = item.get
    facts = {  # in `USER_COLUMNS` order
        "upn": get("userPrincipalName") or "",
        "mail": get("mail"),
        "given_name": get("givenName"),
        "surname": get("surname"),
        "display_name": get("displayName"),
        "account_enabled": get("accountEnabled"),
        "user_type": get("userType"),
        "created_at": parse_datetime(get("createdDateTime")),
        "country": get("country"),
        "usage_location": get("usageLocation"),
        "department": get("department"),
        "job_title": get("jobTitle"),
        "on_premises_sync": get("onPremisesSyncEnabled"),
    }
    user_id = str(item["id"]).lower()
    return (tenant_pk, user_id, *facts.values(), today, None, fingerprint(facts))


def user_row(tenant_pk: int, item: Mapping[str, Any], today: date) -> Row:
    """`user_values` as a dict of `user` columns."""
    return dict(zip(USER_COLUMNS, user_values(tenant_pk, item, today), strict=True))


def assignment_values(tenant_pk: int, item: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """`licenseAssignmentStates` (or `assignedLicenses` when absent) → `license_assignment`
    rows as values in `ASSIGNMENT_COLUMNS` order, one per (SKU, group) (the last one listed)."""
    user_id = str(item["id"]).lower()
    rows: dict[tuple[str, str], tuple[Any, ...]] = {}
    states = item.get("licenseAssignmentStates")
    if isinstance(states, list) and states:
        for state in states:
            sku_id = str(state.get("skuId", "")).lower()
            if not sku_id:
                continue
            via = str(state.get("assignedByGroup") or "").lower()
            error = state.get("error")
            rows[(sku_id, via)] = (
                tenant_pk,
                user_id,
                sku_id,
                via,
                _plans(state.get("disabledPlans")),
                state.get("state"),
                None if error == "None" else error,
                parse_datetime(state.get("lastUpdatedDateTime")),
            )
    else:
        for lic in item.get("assignedLicenses") or []:
            sku_id = str(lic.get("skuId", "")).lower()
            if sku_id:
                plans = _plans(lic.get("disabledPlans"))
                rows[(sku_id, "")] = (tenant_pk, user_id, sku_id, "", plans, "Active", None, None)
    return list(rows.values())


def assignment_rows(tenant_pk: int, item: Mapping[str, Any]) -> list[Row]:
    """`assignment_values` as dicts of `license_assignment` columns."""
    return [
        dict(zip(ASSIGNMENT_COLUMNS, values, strict=True))
        for values in assignment_values(tenant_pk, item)
    ]


_PLANS: dict[tuple[Any, ...], list[str]] = {}  # the few distinct lists of disabled plans


def _plans(value: Any) -> list[str]:
    """Disabled plan ids, lowered and sorted: the same list object for the same ids (a tenant
    has few combinations; treat it as read-only)."""
    if not value:
        return []
    if len(value) > 32:  # longer than any real SKU's plan list: not remembered
        return sorted(str(p).lower() for p in value)
    key = tuple(value)
    found = _PLANS.get(key)
    if found is None:
        found = sorted(str(p).lower() for p in value)
        if len(_PLANS) < 2_000:
            _PLANS[key] = found
    return found


def sign_in_columns(value: Mapping[str, Any] | None) -> Row:
    """`signInActivity` → the user's sign-in columns (last successful preferred)."""
    value = value or {}
    interactive = parse_datetime(value.get("lastSignInDateTime"))
    non_interactive = parse_datetime(value.get("lastNonInteractiveSignInDateTime"))
    successful = parse_datetime(value.get("lastSuccessfulSignInDateTime"))
    fallback = max((d for d in (interactive, non_interactive) if d), default=None)
    return {
        "last_sign_in": successful or fallback,
        "last_interactive_sign_in": interactive,
        "last_non_interactive_sign_in": non_interactive,
    }


def sku_rows(tenant_pk: int, item: Mapping[str, Any], now: datetime) -> tuple[Row, list[Row]]:
    """A `subscribedSku` → (`sku` row, `sku_plan` rows)."""
    sku_id = str(item["skuId"]).lower()
    units = item.get("prepaidUnits") or {}
    part = str(item.get("skuPartNumber") or sku_id)
    facts = {
        "part_number": part,
        "name": product_name(sku_id, part),
        "applies_to": item.get("appliesTo"),
        "capability_status": item.get("capabilityStatus"),
        "enabled": int(units.get("enabled") or 0),
        "suspended": int(units.get("suspended") or 0),
        "warning": int(units.get("warning") or 0),
        "locked_out": int(units.get("lockedOut") or 0),
        "consumed": int(item.get("consumedUnits") or 0),
    }
    plans = [
        {
            "tenant_pk": tenant_pk,
            "sku_id": sku_id,
            "plan_id": str(plan["servicePlanId"]).lower(),
            "plan_name": str(plan.get("servicePlanName") or ""),
            "provisioning_status": plan.get("provisioningStatus"),
            "applies_to": plan.get("appliesTo"),
        }
        for plan in item.get("servicePlans") or []
        if plan.get("servicePlanId")
    ]
    row = {
        "tenant_pk": tenant_pk,
        "sku_id": sku_id,
        **facts,
        "retired": False,
        "fingerprint": fingerprint({**facts, "plans": [p["plan_id"] for p in plans]}),
        "updated_at": now,
    }
    return row, plans
