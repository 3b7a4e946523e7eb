"""Rules that take licences back: blocked accounts, deleted users, inactive and never-used
licences, licensed guests (a review) and overlapping suites. Each is a pure function
`(user, tenant, policy, as_of) -> list[Recommendation]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from seatwise.analytics.recommendations.common import (
    Held,
    days_before,
    excluded,
    guardrails,
    held,
    last_assigned,
    latest_use,
    licensed_services,
    make,
    seed_excluded,
)
from seatwise.analytics.recommendations.model import Recommendation, TenantFacts, UserFacts
from seatwise.analytics.recommendations.policy import Policy
from seatwise.services import SERVICES, UNAVAILABLE_SERVICES
from seatwise.skus import product_name

__all__ = [
    "OVERLAPS",
    "blocked",
    "deleted",
    "guest",
    "inactive",
    "never_used",
    "overlap",
]

_SUITE_PARTS = ("STANDARDPACK", "OFFICESUBSCRIPTION", "EXCHANGESTANDARD", "EXCHANGEENTERPRISE")
_O365_E5_PARTS = (
    "ENTERPRISEPACK",
    *_SUITE_PARTS,
    "POWER_BI_PRO",
    "MCOMEETADV",
    "MCOEV",
    "ATP_ENTERPRISE",
    "THREAT_INTELLIGENCE",
)
_M365_E5_PARTS = (
    "SPE_E3",
    "ENTERPRISEPREMIUM",
    "ENTERPRISEPREMIUM_NOPSTNCONF",
    *_O365_E5_PARTS,
    "EMS",
    "EMSPREMIUM",
    "AAD_PREMIUM",
    "AAD_PREMIUM_P2",
    "INTUNE_A",
    "IDENTITY_THREAT_PROTECTION",
    "INFORMATION_PROTECTION_COMPLIANCE",
)

# Overlapping suites as data: a SKU → the SKUs whose every workload it already includes
# (Microsoft's service-plan lists, graph-facts §9.2). Holding both, the lesser one is waste.
OVERLAPS: Mapping[str, tuple[str, ...]] = {
    "SPE_E5": _M365_E5_PARTS,
    "SPE_E5_NOPSTNCONF": tuple(p for p in _M365_E5_PARTS if p != "MCOMEETADV"),
    "SPE_E3": ("ENTERPRISEPACK", *_SUITE_PARTS, "EMS", "AAD_PREMIUM", "INTUNE_A"),
    "ENTERPRISEPREMIUM": _O365_E5_PARTS,
    "ENTERPRISEPREMIUM_NOPSTNCONF": tuple(p for p in _O365_E5_PARTS if p != "MCOMEETADV"),
    "ENTERPRISEPACK": _SUITE_PARTS,
    "STANDARDPACK": ("EXCHANGESTANDARD",),
    "EMSPREMIUM": ("EMS", "AAD_PREMIUM", "AAD_PREMIUM_P2", "INTUNE_A"),
    "EMS": ("AAD_PREMIUM", "INTUNE_A"),
    "AAD_PREMIUM_P2": ("AAD_PREMIUM",),
    "SPB": (
        "O365_BUSINESS_PREMIUM",
        "O365_BUSINESS_ESSENTIALS",
        "O365_BUSINESS",
        "EXCHANGESTANDARD",
        "AAD_PREMIUM",
        "INTUNE_A",
        "ATP_ENTERPRISE",
    ),
    "O365_BUSINESS_PREMIUM": ("O365_BUSINESS_ESSENTIALS", "O365_BUSINESS", "EXCHANGESTANDARD"),
    "O365_BUSINESS_ESSENTIALS": ("EXCHANGESTANDARD",),
    "PBI_PREMIUM_PER_USER": ("POWER_BI_PRO",),
}


def _sign_in_sentence(user: UserFacts, as_of: date) -> str:
    if user.last_sign_in is None:
        return "No sign-in is recorded."
    days = days_before(as_of, user.last_sign_in)
    return (
        f"Last sign-in on {user.last_sign_in.isoformat()}, {days} days before {as_of.isoformat()}."
    )


def _use(source: str | None) -> str:
    return "a sign-in" if source == "sign-in" else f"{source} activity"


def blocked(
    user: UserFacts, tenant: TenantFacts, policy: Policy, as_of: date
) -> list[Recommendation]:
    """Reclaim every licence of an account whose sign-in is blocked (not deleted)."""
    if user.account_enabled is not False or user.deleted is not None:
        return []
    items = held(user, tenant)
    if not items or excluded(user, policy) or seed_excluded(user, policy):
        return []
    evidence = [
        f"Sign-in is blocked (accountEnabled is false) as of {as_of.isoformat()}.",
        _sign_in_sentence(user, as_of),
    ]
    return [make("blocked", user, "reclaim", items, evidence, "high", as_of)]


def deleted(
    user: UserFacts, tenant: TenantFacts, policy: Policy, as_of: date
) -> list[Recommendation]:
    """Reclaim the licences a user still holds after leaving the directory."""
    if user.deleted is None:
        return []
    items = held(user, tenant)
    if not items or excluded(user, policy) or seed_excluded(user, policy):
        return []
    evidence = [
        f"The account left the directory on {user.deleted.isoformat()} but still holds "
        f"{', '.join(i.part for i in items)}."
    ]
    return [make("deleted", user, "reclaim", items, evidence, "high", as_of)]


def _in_grace(user: UserFacts, items: Sequence[Held], policy: Policy, as_of: date) -> bool:
    assigned = last_assigned(user, items)
    return assigned is not None and days_before(as_of, assigned) < policy.grace_days


def _unobservable(services: set[str]) -> list[str]:
    return [s for s in UNAVAILABLE_SERVICES if s in services]


def inactive(
    user: UserFacts, tenant: TenantFacts, policy: Policy, as_of: date
) -> list[Recommendation]:
    """Reclaim every licence of a user seen before but not for `inactive_days` — no activity
    in any service and no sign-in. Never-seen users are `never-used`'s; blocked and deleted
    users are judged by their own rules; a licence still in its grace period is not judged."""
    if user.account_enabled is False or user.deleted is not None:
        return []
    source, last = latest_use(user)
    if last is None or days_before(as_of, last) < policy.inactive_days:
        return []
    items = held(user, tenant)
    if not items or excluded(user, policy) or seed_excluded(user, policy):
        return []
    if _in_grace(user, items, policy, as_of):
        return []
    licensed = licensed_services(items, tenant)
    shown = []
    for service in SERVICES:
        if service in licensed and service not in UNAVAILABLE_SERVICES:
            day = user.activity.get(service)
            shown.append(f"{service} last on {day.isoformat()}" if day else f"{service} never")
    cutoff = as_of - timedelta(days=policy.inactive_days)
    evidence = [
        f"No activity and no sign-in in the {policy.inactive_days} days since "
        f"{cutoff.isoformat()}: the latest was {_use(source)} on {last.isoformat()}, "
        f"{days_before(as_of, last)} days before {as_of.isoformat()}.",
    ]
    if shown:
        evidence.append("Licensed services: " + ", ".join(shown) + ".")
    evidence.append(_sign_in_sentence(user, as_of))
    confidence = "high"
    hidden = _unobservable(licensed)
    if hidden:
        confidence = "medium"
        evidence.append(f"{', '.join(hidden)} use cannot be observed; sign-ins stand for it.")
    review = guardrails(tenant, policy, as_of)
    return [make("inactive", user, "reclaim", items, evidence, confidence, as_of, review=review)]


def never_used(
    user: UserFacts, tenant: TenantFacts, policy: Policy, as_of: date
) -> list[Recommendation]:
    """Reclaim the licences of a user with no activity in any service and no sign-in ever,
    once the latest licence is `grace_days` old (assignment date, else account creation)."""
    if user.account_enabled is False or user.deleted is not None:
        return []
    if latest_use(user)[1] is not None:
        return []
    items = held(user, tenant)
    if not items or excluded(user, policy) or seed_excluded(user, policy):
        return []
    assigned = last_assigned(user, items)
    if assigned is None or days_before(as_of, assigned) < policy.grace_days:
        return []
    has_dates = any(a.assigned for i in items for a in i.assignments)
    what = "the latest licence was assigned" if has_dates else "the account was created"
    evidence = [
        "No activity in any service and no sign-in is recorded.",
        f"{what[0].upper()}{what[1:]} on {assigned.isoformat()}, "
        f"{days_before(as_of, assigned)} days before {as_of.isoformat()} "
        f"(grace period {policy.grace_days} days).",
    ]
    confidence = "high"
    hidden = _unobservable(licensed_services(items, tenant))
    if hidden:
        confidence = "medium"
        evidence.append(f"{', '.join(hidden)} use cannot be observed; sign-ins stand for it.")
    review = guardrails(tenant, policy, as_of)
    return [make("never-used", user, "reclaim", items, evidence, confidence, as_of, review=review)]


def guest(
    user: UserFacts, tenant: TenantFacts, policy: Policy, as_of: date
) -> list[Recommendation]:
    """Review the licences of a guest account: guests normally use their home tenant's."""
    if (user.user_type or "").lower() != "guest" or user.deleted is not None:
        return []
    items = held(user, tenant)
    if not items or excluded(user, policy):
        return []
    evidence = [
        f"Guest account (userType Guest) holding {', '.join(i.part for i in items)}: guests "
        "usually work with their home organisation's licences."
    ]
    return [make("guest", user, "review", items, evidence, "medium", as_of)]


def overlap(
    user: UserFacts, tenant: TenantFacts, policy: Policy, as_of: date
) -> list[Recommendation]:
    """Reclaim SKUs whose workloads another SKU the user holds already includes (`OVERLAPS`)."""
    if user.deleted is not None or len(user.assignments) < 2:
        return []
    items = held(user, tenant)
    parts = {i.part: i for i in items}
    covered: dict[str, str] = {}
    for greater in sorted(parts):
        for lesser in OVERLAPS.get(greater, ()):
            if lesser in parts and lesser != greater:
                covered.setdefault(lesser, greater)
    if not covered or excluded(user, policy) or seed_excluded(user, policy):
        return []
    redundant = [parts[p] for p in sorted(covered)]
    evidence = []
    for item in redundant:
        suite = parts[covered[item.part]]
        evidence.append(
            f"{item.part} ({product_name(item.sku_id, item.part)}) is included in "
            f"{suite.part} ({product_name(suite.sku_id, suite.part)}), which the user also holds."
        )
        off = sorted(
            tenant.plan_names(item.sku_id, item.disabled)
            & (tenant.plan_names(suite.sku_id) - tenant.plan_names(suite.sku_id, suite.disabled))
        )
        if off:
            evidence.append(
                f"{', '.join(off)} {'is' if len(off) == 1 else 'are'} disabled in {suite.part} "
                f"for this user: enable {'it' if len(off) == 1 else 'them'} there before "
                f"removing {item.part}."
            )
    return [make("overlap", user, "reclaim", redundant, evidence, "high", as_of)]
