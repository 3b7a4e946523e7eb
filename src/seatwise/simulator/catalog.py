"""The licence catalogue the simulated tenant sells from: real skuIds, part numbers and plans.

Loaded once from `data/skus.json` (Microsoft's "Product names and service plan identifiers for
licensing" table). Plan lookups by name tell which workloads a SKU includes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Service plans that stand for a workload seatwise tracks (graph-facts §9.2).
WORKLOAD_PLANS: dict[str, frozenset[str]] = {
    "exchange": frozenset({"EXCHANGE_S_STANDARD", "EXCHANGE_S_ENTERPRISE", "EXCHANGE_S_DESKLESS"}),
    "sharepoint": frozenset({"SHAREPOINTSTANDARD", "SHAREPOINTENTERPRISE", "SHAREPOINTDESKLESS"}),
    "onedrive": frozenset(
        {
            "SHAREPOINTSTANDARD",
            "SHAREPOINTENTERPRISE",
            "SHAREPOINTDESKLESS",
            "ONEDRIVESTANDARD",
            "ONEDRIVE_BASIC",
        }
    ),
    "skype": frozenset({"MCOSTANDARD", "MCOIMP"}),
    "yammer": frozenset({"YAMMER_ENTERPRISE", "VIVAENGAGE_CORE"}),
    "teams": frozenset({"TEAMS1"}),
    "officeapps": frozenset({"OFFICESUBSCRIPTION", "OFFICE_BUSINESS", "OFFICEMOBILE_SUBSCRIPTION"}),
    "desktopapps": frozenset({"OFFICESUBSCRIPTION", "OFFICE_BUSINESS"}),
    "dynamics": frozenset(
        {
            "DYN365_ENTERPRISE_SALES",
            "DYN365_ENTERPRISE_CUSTOMER_SERVICE",
            "DYN365_TEAM_MEMBERS",
            "DYN365_SALES_PRO",
        }
    ),
    "powerbi": frozenset({"BI_AZURE_P0", "BI_AZURE_P2", "BI_AZURE_P3"}),
    "project": frozenset(
        {"PROJECT_CLIENT_SUBSCRIPTION", "SHAREPOINT_PROJECT", "PROJECT_PROFESSIONAL"}
    ),
    "visio": frozenset({"VISIO_CLIENT_SUBSCRIPTION", "VISIOONLINE"}),
}


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """One service plan inside a SKU."""

    id: str
    name: str
    applies_to: str


@dataclass(frozen=True, slots=True)
class Sku:
    """A product as Microsoft sells it."""

    id: str
    part_number: str
    product_name: str
    applies_to: str
    kind: str  # "paid" | "free" | "trial"
    plans: tuple[ServicePlan, ...]

    @property
    def plan_names(self) -> frozenset[str]:
        """Names of every plan in the SKU."""
        return frozenset(plan.name for plan in self.plans)

    def plan_id(self, name: str) -> str | None:
        """The servicePlanId of the plan called `name`, if the SKU includes it."""
        for plan in self.plans:
            if plan.name == name:
                return plan.id
        return None


@cache
def skus() -> dict[str, Sku]:
    """Every catalogue SKU, keyed by skuId (lower case)."""
    raw = json.loads(resources.files("seatwise.simulator").joinpath("data/skus.json").read_text())
    result: dict[str, Sku] = {}
    for item in raw["skus"]:
        plans = tuple(
            ServicePlan(p["servicePlanId"], p["servicePlanName"], p.get("appliesTo", "User"))
            for p in item["servicePlans"]
        )
        result[item["skuId"]] = Sku(
            item["skuId"],
            item["skuPartNumber"],
            item["productName"],
            item.get("appliesTo", "User"),
            item.get("kind", "paid"),
            plans,
        )
    return result


@cache
def by_part_number() -> dict[str, Sku]:
    """Every catalogue SKU, keyed by skuPartNumber."""
    return {sku.part_number: sku for sku in skus().values()}


def sku(part_number: str) -> Sku:
    """The SKU with this skuPartNumber; KeyError if the catalogue lacks it."""
    return by_part_number()[part_number]
