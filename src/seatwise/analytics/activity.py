"""The activity view: each user's last activity per service ("never", "not available" or a date),
the per-service summary (active in 7/30/90 days, inactive, never) and licence differentiation.
Pure: plain rows in, records out; no session, no clock.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from seatwise import services
from seatwise.errors import UsageError

NEVER = "never"
NOT_AVAILABLE = "not available"
# Windows of the summary, in days before the service's as-of date (inclusive: 7 days before
# counts as active in the last 7 days). Older than the last one is "inactive".
WINDOWS = (7, 30, 90)

HEAD_KEYS = ("id", "upn", "display_name")
SUMMARY_KEYS = (
    "service",
    "as_of",
    "licensed",
    "active_7d",
    "active_30d",
    "active_90d",
    "inactive",
    "never",
    "not_available",
)
DIFFERENTIATION_KEYS = (
    "sku_id",
    "sku_part_number",
    "name",
    "service",
    "holders",
    "active_users",
    "as_of",
)

_ORDER = {name: i for i, name in enumerate(services.SERVICES)}


def _spelling(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.casefold())


# Every accepted spelling of a service (compared without case, spaces, hyphens, underscores).
_SPELLINGS: dict[str, str] = {_spelling(s): s for s in services.SERVICES} | {
    "skype": services.SKYPE,
    "sfb": services.SKYPE,
    "dynamics": services.DYNAMICS,
    "d365": services.DYNAMICS,
    "vivaengage": services.YAMMER,
    "projectonline": services.PROJECT,
}


def keys(selected: Sequence[str]) -> tuple[str, ...]:
    """The per-user record's keys for the selected services."""
    return (*HEAD_KEYS, *selected, "as_of")


def resolve_services(names: Iterable[str] | None) -> tuple[str, ...]:
    """The services named (any case, spaces or hyphens; "skype", "power-bi"...), in the order of
    `services.SERVICES`; all 11 when none is named. Raises UsageError for an unknown name."""
    chosen: set[str] = set()
    for name in names or ():
        service = _SPELLINGS.get(_spelling(name))
        if service is None:
            valid = ", ".join(services.SERVICES)
            raise UsageError(f"Unknown service {name!r}; choose from {valid}.")
        chosen.add(service)
    if not chosen:
        return tuple(services.SERVICES)
    return tuple(s for s in services.SERVICES if s in chosen)


class LicenceCatalog:
    """Which services a licence gives: its SKU's service plans, minus the disabled ones; none
    for a SKU left out (unmanaged), so it counts in no figure."""

    def __init__(
        self, plans: Mapping[str, Mapping[str, str]], left_out: AbstractSet[str] = frozenset()
    ) -> None:
        """`plans` maps skuId → {plan id → servicePlanName}; `left_out` are skuIds to ignore."""
        self._plans = plans
        self._left_out = left_out
        self._cache: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}

    def services_of(self, sku_id: str, disabled_plans: Iterable[str] | None) -> frozenset[str]:
        """The services one assignment includes (none for a SKU left out)."""
        key = (sku_id, tuple(sorted(disabled_plans or ())))
        found = self._cache.get(key)
        if found is None:
            if sku_id in self._left_out:
                found = self._cache[key] = frozenset()
                return found
            off = set(key[1])
            enabled = {n for pid, n in self._plans.get(sku_id, {}).items() if pid not in off}
            found = self._cache[key] = frozenset(services.services_of_plans(enabled))
        return found


@dataclass
class UserActivity:
    """One user's facts for the view: who, which services a licence gives, the stored activity
    rows by service (`last_activity`, `as_of`, `available`)."""

    user: Mapping[str, Any]
    licensed: frozenset[str] = frozenset()
    activity: dict[str, Mapping[str, Any]] = field(default_factory=dict)


def _shown(service: str, last: date | None, available: bool, licensed: bool) -> date | str | None:
    if service in services.UNAVAILABLE_SERVICES or available is False:
        return NOT_AVAILABLE if licensed or available is False else None
    if last is not None:
        return last
    return NEVER if licensed else None


def value(service: str, row: Mapping[str, Any] | None, licensed: bool) -> date | str | None:
    """What the view shows for one user and service (`row`: the stored activity row, if any).

    "not available" when the service's use cannot be captured (Visio, or a row stored with
    available=false) and the user holds it; the last activity date when one is recorded (with or
    without a licence); "never" when licensed and nothing is recorded; None when the user holds
    no licence that includes the service and nothing is recorded.
    """
    if row is None:
        return _shown(service, None, True, licensed)
    return _shown(service, row.get("last_activity"), row.get("available", True), licensed)


def user_as_of(activity: Mapping[str, Mapping[str, Any]]) -> date | None:
    """The report refresh date the user's values are true as of: the latest `as_of` of the
    user's usage-report rows, None when the reports hold no row for the user."""
    dates = [
        row["as_of"]
        for service, row in activity.items()
        if service in services.REPORT_SERVICES and row.get("as_of") is not None
    ]
    return max(dates, default=None)


def build(facts: UserActivity, selected: Sequence[str]) -> dict[str, Any]:
    """The per-user record: `id, upn, display_name`, one key per selected service, `as_of`."""
    record: dict[str, Any] = {k: facts.user.get(k) for k in HEAD_KEYS}
    for service in selected:
        shown = value(service, facts.activity.get(service), service in facts.licensed)
        record[service] = shown.isoformat() if isinstance(shown, date) else shown
    as_of = user_as_of(facts.activity)
    record["as_of"] = as_of.isoformat() if as_of else None
    return record


# One kind of stored row: (last activity, as of, available, licensed for the service).
_Kind = tuple[date | None, date | None, bool, bool]


def summarise(
    licences: Mapping[str, AbstractSet[str]],
    rows: Iterable[tuple[str, str, date | None, date | None, bool]],
    selected: Sequence[str],
) -> list[dict[str, Any]]:
    """Per selected service, a roll-up of the per-user view of the live users.

    `licences` maps every live user's id to the services their licences include; `rows` are the
    stored activity rows (user id, service, last activity, as of, available), in any order, at
    most one per user and service; rows of other users (deleted ones) are skipped.

    `licensed` counts holders of a licence that includes the service; `active_Nd` counts users
    whose last activity is at most N days before the service's `as_of` (the latest `as_of` of
    its rows) and `inactive` those whose last activity is older than the last window, with or
    without a licence for it; `never` and `not_available` count those values.
    """
    wanted = set(selected)
    # Rows are counted by kind (few distinct ones) in one cheap pass; the view's rules then
    # run once per kind instead of once per row.
    kinds: Counter[tuple[str, _Kind]] = Counter()
    for user_id, service, last, as_of, available in rows:
        held = licences.get(user_id)
        if held is not None and service in wanted:
            kinds[service, (last, as_of, available, service in held)] += 1
    by_service: dict[str, list[tuple[_Kind, int]]] = {service: [] for service in selected}
    for (service, kind), count in kinds.items():
        by_service[service].append((kind, count))
    licensed = Counter[str]()
    for held, users in Counter(frozenset(h) for h in licences.values()).items():
        for service in held & wanted:
            licensed[service] += users
    return [_summary(s, licensed[s], by_service[s]) for s in selected]


def _summary(service: str, licensed: int, kinds: list[tuple[_Kind, int]]) -> dict[str, Any]:
    shown: Counter[date | str | None] = Counter()
    with_row = 0
    as_of: date | None = None
    for (last, row_as_of, available, holder), count in kinds:
        shown[_shown(service, last, available, holder)] += count
        with_row += count if holder else 0
        if row_as_of is not None and (as_of is None or row_as_of > as_of):
            as_of = row_as_of
    # Licensed users without a row show what a licensed user with nothing recorded shows.
    shown[_shown(service, None, True, True)] += licensed - with_row
    dates = {day: n for day, n in shown.items() if isinstance(day, date)}
    reference = as_of or max(dates, default=None)
    ages = [((reference - day).days, n) for day, n in dates.items()] if reference else []
    record: dict[str, Any] = {
        "service": service,
        "as_of": as_of.isoformat() if as_of else None,
        "licensed": licensed,
    }
    for window in WINDOWS:
        record[f"active_{window}d"] = sum(n for age, n in ages if age <= window)
    record["inactive"] = sum(n for age, n in ages if age > WINDOWS[-1])
    record["never"] = shown[NEVER]
    record["not_available"] = shown[NOT_AVAILABLE]
    return record


def differentiation(
    rows: Iterable[Mapping[str, Any]],
    sku_names: Mapping[str, tuple[str, str]],
    selected: Sequence[str] = services.SERVICES,
    left_out: AbstractSet[str] = frozenset(),
) -> list[dict[str, Any]]:
    """License Differentiation records (`license_usage` rows with the SKU's part number and
    name), for the selected services, ordered by SKU name then service order; SKUs in
    `left_out` (unmanaged ones) have none."""
    records = []
    for row in rows:
        if row["service"] not in selected or row["sku_id"] in left_out:
            continue
        part, name = sku_names.get(row["sku_id"], (row["sku_id"], row["sku_id"]))
        as_of = row.get("as_of")
        records.append(
            {
                "sku_id": row["sku_id"],
                "sku_part_number": part,
                "name": name,
                "service": row["service"],
                "holders": row["holders"],
                "active_users": row["active_users"],
                "as_of": as_of.isoformat() if as_of else None,
            }
        )
    records.sort(
        key=lambda r: (r["name"].casefold(), r["sku_id"], _ORDER.get(r["service"], len(_ORDER)))
    )
    return records
