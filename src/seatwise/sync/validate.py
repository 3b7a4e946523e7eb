"""The validation boundary for Graph objects: what each task accepts of `/users`, `subscribedSkus`,
`signInActivity`, MFA registration and sign-in events before normalising them (docs/sync.md).

Each check returns None for an acceptable object, else a `Problem`: the field and what is wrong
with it, in words that never quote the value (it may be a name or an address). Plain type
checks, no model objects: the roster checks 100k users per run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = [
    "ID_MAX",
    "TEXT_MAX",
    "Problem",
    "Skipped",
    "mfa_problem",
    "object_id",
    "removed_problem",
    "sign_in_event_problem",
    "sign_in_problem",
    "sku_problem",
    "user_problem",
]

# Graph object ids are GUIDs; anything id-like up to 64 characters is accepted (and lowered).
ID_MAX = 64
_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
# Longest text accepted in any field (Graph's own limits are far lower: displayName 256).
TEXT_MAX = 1024
USER_TEXT = (
    "userPrincipalName",
    "mail",
    "givenName",
    "surname",
    "displayName",
    "userType",
    "createdDateTime",
    "country",
    "usageLocation",
    "department",
    "jobTitle",
)
USER_FLAGS = ("accountEnabled", "onPremisesSyncEnabled")
SIGN_IN_TEXT = (
    "lastSignInDateTime",
    "lastNonInteractiveSignInDateTime",
    "lastSuccessfulSignInDateTime",
)
# Graph's enum of a user's licence state and of a SKU's capability (graph-facts §2).
LICENSE_STATES = frozenset({"Active", "ActiveWithError", "Disabled", "Error"})
CAPABILITY_STATUSES = frozenset({"Enabled", "Warning", "Suspended", "Deleted", "LockedOut"})
UNITS = ("enabled", "suspended", "warning", "lockedOut")
MAX_UNITS = 10**9
MAX_LICENSES = 500  # licences or plans on one object


class Problem(NamedTuple):
    """What is wrong with an object: its `field` and `reason` (never the value)."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field} {self.reason}"


def object_id(value: object) -> str | None:
    """A Graph object id, lowered, or None when `value` is not one."""
    if type(value) is str and _ID.fullmatch(value):
        return value.lower()
    return None


def _text(value: object, limit: int = TEXT_MAX) -> str | None:
    """Why a text field is unacceptable, or None (null is acceptable)."""
    if value is None:
        return None
    if type(value) is not str:
        return "is not text"
    if len(value) > limit:
        return f"is longer than {limit} characters"
    if "\x00" in value:
        return "contains a NUL character"
    return None


def _id_problem(item: Mapping[str, Any], key: str = "id") -> Problem | None:
    value = item.get(key)
    if value is None:
        return Problem(key, "is missing")
    if object_id(value) is None:
        return Problem(key, "is not an object id")
    return None


_CHECKED: set[str] = set()  # ids of SKUs, plans and groups found good (a tenant has few)


def _repeated_id(value: object) -> bool:
    """Whether `value` is an object id, for ids that repeat across users (remembered)."""
    if type(value) is not str:
        return False
    if value in _CHECKED:
        return True
    if _ID.fullmatch(value) is None:
        return False
    if len(_CHECKED) < 10_000:
        _CHECKED.add(value)
    return True


def _id_list(values: object, field: str) -> Problem | None:
    if values is None:
        return None
    if type(values) is not list or len(values) > MAX_LICENSES:
        return Problem(field, "is not a list of ids")
    for value in values:
        if not _repeated_id(value):
            return Problem(field, "is not a list of ids")
    return None


def user_problem(item: object) -> Problem | None:
    """What makes a `/users` (or delta) item unusable, or None."""
    if type(item) is not dict:
        return Problem("the object", "is not a JSON object")
    problem = _id_problem(item)
    if problem is not None:
        return problem
    for key in USER_TEXT:
        value = item.get(key)
        if value is None or (type(value) is str and len(value) <= TEXT_MAX and "\x00" not in value):
            continue  # the common case, without a call per field
        return Problem(key, _text(value) or "is not text")
    for key in USER_FLAGS:
        value = item.get(key)
        if value is not None and type(value) is not bool:
            return Problem(key, "is not true or false")
    return _licenses_problem(item)


def _licenses_problem(item: Mapping[str, Any]) -> Problem | None:
    states = item.get("licenseAssignmentStates")
    if states is not None:
        if type(states) is not list or len(states) > MAX_LICENSES:
            return Problem("licenseAssignmentStates", "is not a list")
        for state in states:
            if type(state) is not dict:
                return Problem("licenseAssignmentStates", "holds something not an object")
            sku_id = state.get("skuId")
            if not _repeated_id(sku_id):
                why = "is missing" if sku_id is None else "is not an object id"
                return Problem("licenseAssignmentStates.skuId", why)
            group = state.get("assignedByGroup")
            if group is not None and not _repeated_id(group):
                return Problem("licenseAssignmentStates.assignedByGroup", "is not an object id")
            state_value = state.get("state")
            if state_value is not None and state_value not in LICENSE_STATES:
                return Problem("licenseAssignmentStates.state", "is not a known licence state")
            error, updated = state.get("error"), state.get("lastUpdatedDateTime")
            if error is not None and (reason := _text(error, 256)) is not None:
                return Problem("licenseAssignmentStates.error", reason)
            if updated is not None and (reason := _text(updated, 64)) is not None:
                return Problem("licenseAssignmentStates.lastUpdatedDateTime", reason)
            problem = _id_list(state.get("disabledPlans"), "licenseAssignmentStates.disabledPlans")
            if problem is not None:
                return problem
    licenses = item.get("assignedLicenses")
    if licenses is not None:
        if type(licenses) is not list or len(licenses) > MAX_LICENSES:
            return Problem("assignedLicenses", "is not a list")
        for lic in licenses:
            if type(lic) is not dict:
                return Problem("assignedLicenses", "holds something not an object")
            sku_id = lic.get("skuId")
            if not _repeated_id(sku_id):
                why = "is missing" if sku_id is None else "is not an object id"
                return Problem("assignedLicenses.skuId", why)
            problem = _id_list(lic.get("disabledPlans"), "assignedLicenses.disabledPlans")
            if problem is not None:
                return problem
    return None


def removed_problem(item: Mapping[str, Any]) -> Problem | None:
    """What makes a delta `@removed` item unusable, or None."""
    if (problem := _id_problem(item)) is not None:
        return problem
    removed = item.get("@removed")
    if removed is not None and type(removed) is not dict:
        return Problem("@removed", "is not an object")
    reason = (removed or {}).get("reason")
    if reason is not None and reason not in ("changed", "deleted"):
        return Problem("@removed.reason", "is neither changed nor deleted")
    return None


def sign_in_problem(item: object) -> Problem | None:
    """What makes a `/users?$select=id,signInActivity` item unusable, or None."""
    if type(item) is not dict:
        return Problem("the object", "is not a JSON object")
    if (problem := _id_problem(item)) is not None:
        return problem
    activity = item.get("signInActivity")
    if activity is None:
        return None
    if type(activity) is not dict:
        return Problem("signInActivity", "is not an object")
    for key in SIGN_IN_TEXT:
        if (reason := _text(activity.get(key), 64)) is not None:
            return Problem(f"signInActivity.{key}", reason)
    return None


def sign_in_event_problem(item: object) -> Problem | None:
    """What makes an `auditLogs/signIns` event unusable, or None."""
    if type(item) is not dict:
        return Problem("the object", "is not a JSON object")
    if (problem := _id_problem(item, "userId")) is not None:
        return problem
    if type(item.get("createdDateTime")) is not str or len(item["createdDateTime"]) > 64:
        return Problem("createdDateTime", "is not a date and time")
    return None


def mfa_problem(item: object) -> Problem | None:
    """What makes a `userRegistrationDetails` item unusable, or None."""
    if type(item) is not dict:
        return Problem("the object", "is not a JSON object")
    if (problem := _id_problem(item)) is not None:
        return problem
    for key in ("isMfaRegistered", "isAdmin"):
        value = item.get(key)
        if value is not None and type(value) is not bool:
            return Problem(key, "is not true or false")
    methods = item.get("methodsRegistered")
    if methods is not None:
        if type(methods) is not list or len(methods) > 100:
            return Problem("methodsRegistered", "is not a list of text")
        for method in methods:
            if type(method) is not str or len(method) > 128:
                return Problem("methodsRegistered", "is not a list of text")
    return None


def sku_problem(item: object) -> Problem | None:
    """What makes a `subscribedSkus` item unusable, or None."""
    if type(item) is not dict:
        return Problem("the object", "is not a JSON object")
    if (problem := _id_problem(item, "skuId")) is not None:
        return problem
    for key in ("skuPartNumber", "appliesTo"):
        if (reason := _text(item.get(key), 256)) is not None:
            return Problem(key, reason)
    status = item.get("capabilityStatus")
    if status is not None and status not in CAPABILITY_STATUSES:
        return Problem("capabilityStatus", "is not a known capability status")
    units = item.get("prepaidUnits")
    if units is not None and type(units) is not dict:
        return Problem("prepaidUnits", "is not an object")
    for key in UNITS:
        value = (units or {}).get(key)
        if value is not None and (type(value) is not int or not 0 <= value <= MAX_UNITS):
            return Problem(f"prepaidUnits.{key}", "is not a whole number of units")
    consumed = item.get("consumedUnits")
    if consumed is not None and (type(consumed) is not int or not 0 <= consumed <= MAX_UNITS):
        return Problem("consumedUnits", "is not a whole number of units")
    plans = item.get("servicePlans")
    if plans is not None:
        if type(plans) is not list or len(plans) > MAX_LICENSES:
            return Problem("servicePlans", "is not a list")
        for plan in plans:
            if type(plan) is not dict:
                return Problem("servicePlans", "holds something not an object")
            if (problem := _id_problem(plan, "servicePlanId")) is not None:
                return Problem("servicePlans.servicePlanId", problem.reason)
            for key in ("servicePlanName", "provisioningStatus", "appliesTo"):
                if (reason := _text(plan.get(key), 256)) is not None:
                    return Problem(f"servicePlans.{key}", reason)
    return None


class Skipped:
    """Objects a task left out, by kind and problem, for the task's notes: how many, and the id
    of the first one (ids only: never a name)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], list[Any]] = {}

    def add(self, kind: str, problem: Problem, item_id: object = None) -> None:
        """Count one `kind` object (e.g. "user") left out for `problem`."""
        entry = self._seen.get((kind, str(problem)))
        if entry is None:
            self._seen[(kind, str(problem))] = [1, object_id(item_id)]
        else:
            entry[0] += 1

    def total(self, kind: str) -> int:
        """How many `kind` objects were left out."""
        return sum(entry[0] for (k, _), entry in self._seen.items() if k == kind)

    def notes(self) -> list[str]:
        """One sentence per kind and problem."""
        sentences = []
        for (kind, problem), (count, example) in sorted(self._seen.items()):
            plural = kind if count == 1 else f"{kind}s"
            first = f" (the first: {kind} {example})" if example else ""
            sentences.append(
                f"{count} {plural} from Graph left out, stored data kept: {problem}{first}."
            )
        return sentences
