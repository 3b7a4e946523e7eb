"""The hybrid IT asset management (ITAM) position: per tenant and managed SKU, the entitlement
(units purchased) against the consumption (units assigned), the contract terms, the unit and
annual cost and a status; and the named-user consumption rows (which user consumes which managed
licence) an ITAM tool reconciles against. Pure: plain rows in, no session and no clock (`as_of`
is passed in).

Unmanaged SKUs are not in the position at all. A SKU is `retired` when it left the tenant's
subscriptions or the tenant integration is deactivated or superseded by another registration;
retired SKUs keep their counts and contract terms but have no annual cost. Otherwise a SKU whose
contract expired (expiration date before `as_of`) is `expired`, and any other is `active`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from seatwise.analytics.licenses import LicensePosition

__all__ = [
    "CONSUMPTION_KEYS",
    "ITAM_KEYS",
    "PUBLISHER",
    "STATUSES",
    "TenantFacts",
    "consumption_records",
    "position_records",
    "status",
]

PUBLISHER = "Microsoft"
STATUSES = ("active", "expired", "retired")

ITAM_KEYS = (
    "tenant",
    "tenant_id",
    "publisher",
    "product_name",
    "sku_part_number",
    "sku_id",
    "license_type",
    "purchased",
    "consumed",
    "available",
    "cost",
    "currency",
    "payment_frequency",
    "annual_cost",
    "effective_date",
    "expiration_date",
    "status",
)

CONSUMPTION_KEYS = (
    "tenant",
    "tenant_id",
    "publisher",
    "product_name",
    "sku_part_number",
    "sku_id",
    "user_id",
    "upn",
    "display_name",
    "account_enabled",
    "assigned_directly",
    "assigned_by_groups",
    "status",
)


@dataclass(frozen=True)
class TenantFacts:
    """What the position needs to know of a tenant registration."""

    name: str
    tenant_id: str
    active: bool = True
    superseded_by: str | None = None

    @property
    def retired(self) -> bool:
        """Whether the integration is deactivated or superseded: all its licences are retired."""
        return not self.active or bool(self.superseded_by)


def status(tenant: TenantFacts, item: LicensePosition, as_of: date) -> str:
    """`retired`, `expired` or `active` (see the module's docstring)."""
    if item.retired or tenant.retired:
        return "retired"
    if item.expiration_date is not None and item.expiration_date < as_of:
        return "expired"
    return "active"


def position_records(
    tenant: TenantFacts, positions: Iterable[LicensePosition], as_of: date
) -> list[dict[str, Any]]:
    """The ITAM records (exactly `ITAM_KEYS`, JSON-ready) of one tenant's licence positions;
    unmanaged SKUs are left out."""
    records = []
    for item in positions:
        if not item.managed:
            continue
        state = status(tenant, item, as_of)
        base = item.record()
        records.append(
            {
                "tenant": tenant.name,
                "tenant_id": tenant.tenant_id,
                "publisher": PUBLISHER,
                "product_name": item.name,
                "sku_part_number": item.sku_part_number,
                "sku_id": item.sku_id,
                "license_type": item.license_type,
                "purchased": item.purchased,
                "consumed": item.assigned,
                "available": item.available,
                "cost": base["cost"],
                "currency": item.currency,
                "payment_frequency": item.payment_frequency,
                "annual_cost": None if state == "retired" else base["annual_cost"],
                "effective_date": base["effective_date"],
                "expiration_date": base["expiration_date"],
                "status": state,
            }
        )
    return records


def consumption_records(
    position: Iterable[Mapping[str, Any]],
    users: Mapping[str, Mapping[str, Any]],
    assignments: Iterable[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Named-user consumption rows (exactly `CONSUMPTION_KEYS`) of one tenant: one per user and
    SKU of the tenant's ITAM `position` records (so managed SKUs only), by SKU part number then
    UPN. `users` maps a user id to its stored row (`upn`, `display_name`, `account_enabled`);
    `assignments` are stored licence assignments (`user_id`, `sku_id`, `via`: '' when direct,
    else the group's id). Assignments of users not in `users` are left out."""
    skus = {str(r["sku_id"]).lower(): r for r in position}
    held: dict[tuple[str, str], tuple[bool, set[str]]] = {}
    for row in assignments:
        sku_id = str(row["sku_id"]).lower()
        if sku_id not in skus or row["user_id"] not in users:
            continue
        direct, groups = held.get((sku_id, row["user_id"]), (False, set()))
        if row["via"]:
            groups.add(str(row["via"]))
        held[(sku_id, row["user_id"])] = (direct or not row["via"], groups)
    records = []
    for (sku_id, user_id), (direct, groups) in held.items():
        sku, user = skus[sku_id], users[user_id]
        records.append(
            {
                "tenant": sku["tenant"],
                "tenant_id": sku["tenant_id"],
                "publisher": sku["publisher"],
                "product_name": sku["product_name"],
                "sku_part_number": sku["sku_part_number"],
                "sku_id": sku["sku_id"],
                "user_id": user_id,
                "upn": user.get("upn"),
                "display_name": user.get("display_name"),
                "account_enabled": user.get("account_enabled"),
                "assigned_directly": direct,
                "assigned_by_groups": sorted(groups),
                "status": sku["status"],
            }
        )
    records.sort(
        key=lambda r: (
            str(r["sku_part_number"]).casefold(),
            r["sku_id"],
            str(r["upn"]),
            r["user_id"],
        )
    )
    return records
