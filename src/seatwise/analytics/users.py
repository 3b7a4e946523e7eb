"""The Users view (DESIGN §4): one record per user with exactly the contract's keys, built from a
user's stored facts. Pure: no session, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from seatwise import services

KEYS = (
    "id",
    "upn",
    "email",
    "first_name",
    "last_name",
    "display_name",
    "licenses",
    "active_date",
    "deactivated_date",
    "block_credentials",
    "mfa_enabled",
    "last_used_app",
    "last_sign_in",
    "last_activity",
    "days_since_last_activity",
    "activations",
    "mail_usage_mb",
    "onedrive_usage_mb",
    "windows",
    "mac",
    "mobile",
    "web",
    "on_premises_sync",
    "guest",
    "title",
    "country",
    "account_created",
)
# What an admin looks for first, in this order: the columns a table shows when it cannot show
# them all (the Users page within 1,024 px, `seatwise users` within the terminal).
FIRST_KEYS = (
    "upn",
    "licenses",
    "last_activity",
    "days_since_last_activity",
    "block_credentials",
    "mfa_enabled",
    "country",
)


@dataclass
class UserFacts:
    """Everything stored about one user that the view needs."""

    user: Mapping[str, Any]
    assignments: list[Mapping[str, Any]] = field(default_factory=list)
    activity: list[Mapping[str, Any]] = field(default_factory=list)
    snapshot: Mapping[str, Any] | None = None
    activations: list[Mapping[str, Any]] = field(default_factory=list)


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def last_activity(
    activity: Iterable[Mapping[str, Any]],
) -> tuple[str | None, date | None, date | None]:
    """(service, date, as-of date) of the latest activity in any service; Nones when none."""
    best: tuple[str | None, date | None, date | None] = (None, None, None)
    order = {name: i for i, name in enumerate(services.SERVICES)}
    for row in activity:
        day = row.get("last_activity")
        if day is None or not row.get("available", True):
            continue
        current = best[1]
        if (
            current is None
            or day > current
            or (day == current and order.get(row["service"], 99) < order.get(best[0] or "", 99))
        ):
            best = (row["service"], day, row.get("as_of"))
    return best


def refresh_date(activity: Iterable[Mapping[str, Any]]) -> date | None:
    """The usage reports' refresh date the user's activity is true as of (the latest seen)."""
    dates = [
        r["as_of"] for r in activity if r["service"] in services.REPORT_SERVICES and r.get("as_of")
    ]
    return max(dates, default=None)


def build(facts: UserFacts, sku_names: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """The view record of one user; `sku_names` maps skuId → (part number, product name)."""
    user = facts.user
    licenses = []
    for a in sorted(facts.assignments, key=lambda a: (a["sku_id"], a["via"])):
        part, name = sku_names.get(a["sku_id"], (a["sku_id"], a["sku_id"]))
        licenses.append(
            {
                "sku_id": a["sku_id"],
                "sku_part_number": part,
                "name": name,
                "assigned_by_group": a["via"] or None,
            }
        )
    service, last, as_of = last_activity(facts.activity)
    assigned = [a["last_updated"] for a in facts.assignments if a.get("last_updated")]
    active = min(assigned).date() if assigned else None
    created = user.get("created_at")
    if active is None and created is not None:
        active = created.date()
    snap = facts.snapshot or {}
    deleted = user.get("deleted_at")
    days = None
    if last is not None:
        reference = refresh_date(facts.activity) or as_of or last
        days = max((reference - last).days, 0)
    return {
        "id": user["id"],
        "upn": user["upn"],
        "email": user.get("mail"),
        "first_name": user.get("given_name"),
        "last_name": user.get("surname"),
        "display_name": user.get("display_name"),
        "licenses": licenses,
        "active_date": _iso(active),
        "deactivated_date": _iso(deleted.date()) if deleted else None,
        "block_credentials": None
        if user.get("account_enabled") is None
        else not user["account_enabled"],
        "mfa_enabled": user.get("mfa_registered"),
        "last_used_app": service,
        "last_sign_in": _iso(user.get("last_sign_in")),
        "last_activity": _iso(last),
        "days_since_last_activity": days,
        "activations": [
            {
                "product": a["product_type"],
                "last_activated": _iso(a.get("last_activated")),
                "windows": a.get("windows", 0),
                "mac": a.get("mac", 0),
                "windows10_mobile": a.get("windows10_mobile", 0),
                "ios": a.get("ios", 0),
                "android": a.get("android", 0),
            }
            for a in sorted(facts.activations, key=lambda a: a["product_type"])
            if any(a.get(k) for k in ("windows", "mac", "windows10_mobile", "ios", "android"))
        ],
        "mail_usage_mb": snap.get("mail_mb"),
        "onedrive_usage_mb": snap.get("onedrive_mb"),
        "windows": snap.get("windows"),
        "mac": snap.get("mac"),
        "mobile": snap.get("mobile"),
        "web": snap.get("web"),
        "on_premises_sync": bool(user.get("on_premises_sync")),
        "guest": user.get("user_type") == "Guest",
        "title": user.get("job_title"),
        "country": user.get("country"),
        "account_created": _iso(created),
    }
