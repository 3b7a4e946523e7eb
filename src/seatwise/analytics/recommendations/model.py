"""The plain values the recommendation rules read (user and tenant facts) and the one they
produce (`Recommendation`, with the JSON contract's keys). No I/O; imports only `seatwise.skus`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any, NamedTuple

from seatwise.skus import PRODUCTS, products

__all__ = [
    "ACTIONS",
    "CENT",
    "CONFIDENCES",
    "KEYS",
    "Assignment",
    "Contract",
    "Recommendation",
    "Report",
    "Sku",
    "Snapshot",
    "TenantFacts",
    "UserFacts",
]

KEYS = (
    "rule",
    "upn",
    "action",
    "skus",
    "target_sku",
    "evidence",
    "confidence",
    "annual_savings",
    "currency",
    "when",
)
CENT = Decimal("0.01")
ACTIONS = ("reclaim", "downgrade", "review")
CONFIDENCES = ("high", "medium", "low")


class Assignment(NamedTuple):
    """A licence a user holds: `via` is '' when direct, else the group's object id."""

    sku_id: str
    via: str = ""
    disabled_plans: frozenset[str] = frozenset()
    """Plan ids (lower-case GUIDs) switched off in this assignment."""
    assigned: date | None = None
    """When the assignment last changed (Graph's lastUpdatedDateTime), if known."""


class Snapshot(NamedTuple):
    """The user's latest daily usage snapshot: storage and the platforms used in the period."""

    day: date
    mail_mb: float | None = None
    onedrive_mb: float | None = None
    windows: bool | None = None
    mac: bool | None = None
    mobile: bool | None = None
    web: bool | None = None


@dataclass(frozen=True, slots=True)
class UserFacts:
    """Everything the rules know about one user."""

    id: str
    upn: str
    account_enabled: bool | None = True
    user_type: str | None = "Member"
    kind: str | None = None
    created: date | None = None
    deleted: date | None = None
    on_premises_sync: bool | None = None
    mfa_registered: bool | None = None
    last_sign_in: date | None = None
    assignments: tuple[Assignment, ...] = ()
    activity: Mapping[str, date] = field(default_factory=dict)
    """Service → the last day the user was active in it; services never used, and those
    whose use cannot be observed (Visio), are absent."""
    snapshot: Snapshot | None = None


@dataclass(frozen=True, slots=True)
class Contract:
    """Contract terms of a SKU as the user entered them (DESIGN §5)."""

    cost: Decimal | None = None
    """Price of one licence per payment period."""
    currency: str | None = None
    payment_frequency: str | None = None
    """'monthly' or 'annual'."""
    effective_date: date | None = None
    expiration_date: date | None = None
    managed: bool = True


@dataclass(frozen=True, slots=True)
class Sku:
    """A SKU of the tenant and its service plans (plan id → servicePlanName)."""

    sku_id: str
    part_number: str
    plans: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Report:
    """A usage report's refresh date, and whether it concealed user names."""

    name: str
    refresh_date: date | None
    concealed: bool | None = None


@dataclass(frozen=True)
class TenantFacts:
    """What the rules know about the tenant: SKUs, contracts, report freshness, P1, privacy."""

    name: str = ""
    premium: bool | None = None
    """False when the tenant has no Entra ID P1 (no sign-in data); None when unknown."""
    concealed_names: bool | None = None
    skus: Mapping[str, Sku] = field(default_factory=dict)
    contracts: Mapping[str, Contract] = field(default_factory=dict)
    """Keyed by skuId; contracts outlive SKUs, so some may name SKUs the tenant no longer has."""
    reports: tuple[Report, ...] = ()

    def part_number(self, sku_id: str) -> str:
        """The SKU's part number (from the tenant, else Microsoft's table, else the id)."""
        sku = self.skus.get(sku_id)
        if sku is not None:
            return sku.part_number
        known = PRODUCTS.get(sku_id)
        return known[0] if known else sku_id

    @cached_property
    def memo(self) -> dict[Any, Any]:
        """Values derived once per tenant and reused for every user (guardrails, plan sets)."""
        return {}

    @cached_property
    def _ids_by_part(self) -> dict[str, str]:
        # Microsoft's table as it is now (an imported copy included), read once per tenant
        ids = {part: sku_id for sku_id, (part, _) in products().items()}
        ids.update({sku.part_number: sku.sku_id for sku in self.skus.values()})
        return ids

    def sku_id(self, part_number: str) -> str | None:
        """The skuId of a part number: the tenant's SKU, else Microsoft's table, else None."""
        return self._ids_by_part.get(part_number)

    def contract(self, sku_id: str) -> Contract | None:
        """The SKU's contract, if one was entered."""
        return self.contracts.get(sku_id)

    def managed(self, sku_id: str) -> bool:
        """Whether the SKU counts: only an explicit `managed = false` contract excludes it."""
        contract = self.contracts.get(sku_id)
        return contract is None or contract.managed

    def plan_names(self, sku_id: str, disabled: frozenset[str] = frozenset()) -> frozenset[str]:
        """The SKU's enabled service plan names, leaving out `disabled` plan ids."""
        key = ("plans", sku_id, disabled)
        found = self.memo.get(key)
        if found is None:
            sku = self.skus.get(sku_id)
            plans = sku.plans.items() if sku is not None else ()
            found = self.memo[key] = frozenset(n for pid, n in plans if pid not in disabled)
        return found


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One finding about one user: what to do, with which SKUs, why, and what it saves."""

    rule: str
    upn: str
    action: str
    skus: tuple[str, ...]
    target_sku: str | None
    evidence: tuple[str, ...]
    confidence: str
    annual_savings: Decimal | None
    currency: str | None
    when: str

    def record(self) -> dict[str, Any]:
        """The JSON record with exactly `KEYS`; savings as a string with two decimals."""
        return {
            "rule": self.rule,
            "upn": self.upn,
            "action": self.action,
            "skus": list(self.skus),
            "target_sku": self.target_sku,
            "evidence": list(self.evidence),
            "confidence": self.confidence,
            "annual_savings": None
            if self.annual_savings is None
            else f"{self.annual_savings.quantize(CENT, rounding=ROUND_HALF_UP):f}",
            "currency": self.currency,
            "when": self.when,
        }
